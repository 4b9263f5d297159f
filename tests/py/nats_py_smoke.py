"""nats-py (the stock Python client) against a running Shoal: pub/sub with a
wildcard, a queue group, request/reply through inbox subjects, headers, and the
no-responders error. Exits non-zero on the first failed check.

Usage: python3 nats_py_smoke.py nats://127.0.0.1:PORT
"""

import asyncio
import sys

import nats
from nats.errors import NoRespondersError


async def main(url: str) -> None:
    nc = await nats.connect(url, connect_timeout=5)
    other = await nats.connect(url, connect_timeout=5)
    assert nc.connected_server_version.major == 2, nc.connected_server_version

    got = []
    sub = await other.subscribe("py.*")
    q1 = await nc.subscribe("py.work", queue="workers")
    q2 = await other.subscribe("py.work", queue="workers")
    await other.flush()
    await nc.flush()
    for i in range(50):
        await nc.publish("py.work", f"{i}".encode(), headers={"X-I": str(i)})
    await nc.flush()
    for i in range(50):
        m = await sub.next_msg(timeout=5)
        assert m.subject == "py.work" and m.data == f"{i}".encode(), m
        assert m.headers and m.headers.get("X-I") == str(i), m.headers
        got.append(m)
    # PING/PONG fences instead of waiting for quiet: nc's PONG (its flush above)
    # proves every publish was routed to every subscriber; the PONGs of these
    # flushes come after every message already queued for each connection, and
    # nats-py hands messages to their subscriptions in order as it reads them.
    await other.flush()
    await nc.flush()
    queued = q1.pending_msgs + q2.pending_msgs
    assert queued == 50, f"queue group delivered {queued} of 50"
    for q in (q1, q2):
        for _ in range(q.pending_msgs):
            await q.next_msg(timeout=5)
    # Nothing left unread: drain() waits for consumed queues.
    for s in (sub, q1, q2):
        await s.unsubscribe()

    async def echo(msg):
        await msg.respond(b"re:" + msg.data)

    await other.subscribe("py.svc", cb=echo)
    await other.flush()
    for i in range(20):
        r = await nc.request("py.svc", f"{i}".encode(), timeout=5)
        assert r.data == f"re:{i}".encode(), r.data

    try:
        await nc.request("nobody.home", b"x", timeout=5)
        raise AssertionError("expected no responders")
    except NoRespondersError:
        pass

    await nc.drain()
    await other.drain()
    print("nats-py smoke: ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
