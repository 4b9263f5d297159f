"""nats-py fails over within a cluster: connected to node A only, it learns
node B from INFO's connect_urls; once A is gone it reconnects to B and its
subscription works there. The test kills A when this script prints READY and
writes a line on stdin. Exits non-zero on the first failed check.

Usage: python3 nats_py_failover.py nats://127.0.0.1:A nats://127.0.0.1:B
"""

import asyncio
import sys
import time

import nats


async def main(url_a: str, url_b: str) -> None:
    nc = await nats.connect(url_a, connect_timeout=5, reconnect_time_wait=0.2, max_reconnect_attempts=-1)
    deadline = time.monotonic() + 10
    while len(nc.discovered_servers) < 1:
        assert time.monotonic() < deadline, nc.servers
        await asyncio.sleep(0.02)
    sub = await nc.subscribe("failover")
    await nc.flush()
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    other = await nats.connect(url_b, connect_timeout=5)
    deadline = time.monotonic() + 20
    while True:
        assert time.monotonic() < deadline, "no message after failover"
        await other.publish("failover", b"hi")
        await other.flush()
        try:
            m = await sub.next_msg(timeout=0.1)
            assert m.data == b"hi", m
            break
        except nats.errors.TimeoutError:
            pass
    port_b = int(url_b.rsplit(":", 1)[1])
    assert nc.connected_url.port == port_b, nc.connected_url
    await other.close()
    await nc.close()
    print("OK", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
