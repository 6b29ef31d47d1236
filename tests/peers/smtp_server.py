#!/usr/bin/python3
"""A real SMTP server for segalert's tests, built on aiosmtpd.

Run it with /usr/bin/python3 (Debian's python3-aiosmtpd); a pyenv python on
PATH usually cannot import it.

    smtp_server.py --port 0 --maildir DIR [--starttls CERT KEY]
                   [--require-starttls] [--auth USER:PASS]
                   [--refuse-rcpt ADDR]... [--tempfail-rcpt ADDR]...
                   [--no-starttls]

Listens on 127.0.0.1 only.  --port 0 picks a free port.  When listening it
prints "READY <port>" on stdout.  Each accepted message is written to
DIR/<n>.eml (the bytes received after DATA, dot-unstuffed, CRLF kept) with
its envelope in DIR/<n>.env ("from:", "rcpt:", "tls:", "auth:",
"session:" lines); the
.env file is written first and the .eml renamed into place last, so a
reader that sees N .eml files sees N complete messages.  SIGTERM stops it.
"""

import argparse
import logging
import os
import signal
import socket
import ssl
import sys
import threading

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError as e:  # the C test turns this into a clear failure
    sys.stderr.write("smtp_server.py: cannot import aiosmtpd (%s); "
                     "install python3-aiosmtpd and run with /usr/bin/python3\n"
                     % e)
    sys.exit(3)

HOST = "127.0.0.1"



def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Handler:
    def __init__(self, maildir, refuse, tempfail):
        self.maildir = maildir
        self.refuse = {a.lower() for a in refuse}
        self.tempfail = {a.lower() for a in tempfail}
        self.lock = threading.Lock()
        self.count = 0
        self.sessions = 0

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 <%s>: recipient refused" % address
        if address.lower() in self.tempfail:
            return "451 4.3.0 <%s>: try again later" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
            # Number each connection once, so tests can tell whether a
            # batch travelled in one session.
            if not hasattr(session, "segalert_seq"):
                self.sessions += 1
                session.segalert_seq = self.sessions
        login = getattr(session.auth_data, "login", None)
        if isinstance(login, bytes):
            login = login.decode("utf-8", "replace")
        base = os.path.join(self.maildir, str(n))
        with open(base + ".env", "w") as f:
            f.write("from: %s\n" % envelope.mail_from)
            for r in envelope.rcpt_tos:
                f.write("rcpt: %s\n" % r)
            f.write("tls: %s\n" % ("yes" if session.ssl is not None else "no"))
            f.write("auth: %s\n" % (login if session.authenticated else "-"))
            f.write("session: %d\n" % session.segalert_seq)
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content)
        os.rename(base + ".tmp", base + ".eml")
        return "250 2.0.0 Message accepted for delivery"


def make_authenticator(user, password):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login == user.encode()
              and auth_data.password == password.encode())
        # handled=False: aiosmtpd then answers 535 itself on failure (with
        # the default handled=True it answers nothing and the client hangs).
        return AuthResult(success=ok, handled=False,
                          auth_data=auth_data if ok else None)
    return authenticator


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--require-starttls", action="store_true")
    ap.add_argument("--auth", metavar="USER:PASS")
    ap.add_argument("--refuse-rcpt", action="append", default=[])
    ap.add_argument("--tempfail-rcpt", action="append", default=[])
    ap.add_argument("--no-starttls", action="store_true")
    ap.add_argument("--debug", action="store_true",
                    help="log the SMTP dialogue to stderr (shows AUTH data)")
    args = ap.parse_args()
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(asctime)s %(message)s")
    else:
        # aiosmtpd warns that it sets its own deprecated login_data.
        logging.getLogger("mail.log").setLevel(logging.ERROR)

    os.makedirs(args.maildir, exist_ok=True)
    port = args.port or free_port()
    kwargs = {}
    tls = args.starttls is not None and not args.no_starttls
    if tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.starttls[0], args.starttls[1])
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = args.require_starttls
    if args.auth:
        user, _, password = args.auth.partition(":")
        kwargs["authenticator"] = make_authenticator(user, password)
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = tls

    handler = Handler(args.maildir, args.refuse_rcpt, args.tempfail_rcpt)
    controller = Controller(handler, hostname=HOST, port=port,
                            server_hostname="localhost", **kwargs)
    controller.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    sys.stdout.write("READY %d\n" % port)
    sys.stdout.flush()
    while not stop.wait(3600):
        pass
    controller.stop()


if __name__ == "__main__":
    main()
