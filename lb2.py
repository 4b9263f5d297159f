import socket,subprocess,time,signal
fails=0
for i in range(20):
    p=subprocess.Popen(["/work/main/target/release/shoal","-p","4223","-m","8223","-a","127.0.0.1"],stderr=subprocess.PIPE,stdout=subprocess.DEVNULL)
    ok=False
    for j in range(300):
        try: socket.create_connection(("127.0.0.1",4223)).close(); ok=True; break
        except OSError: time.sleep(0.005)
    if not ok: fails+=1; print(p.stderr.read1(4096)[-300:])
    p.send_signal(signal.SIGKILL); p.wait()
print("fails", fails)
