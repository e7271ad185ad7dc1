#!/usr/bin/env python3
"""Real mail servers on 127.0.0.1 for the end-to-end tests and the benchmark.

    mailserver.py --dir DIR [--user ADDRESS:PASSWORD]... [--oauth ADDRESS:REFRESH_TOKEN]...

Starts, on free loopback ports:
  * Dovecot (IMAP, IMAPS, STARTTLS, LMTP) from a config written into DIR, mail in
    DIR/mail/<user>/Maildir. Any user has a mailbox; password users come from --user,
    XOAUTH2/OAUTHBEARER logins are checked against the OAuth2 endpoint below.
  * A capturing SMTP server (aiosmtpd) with two listeners: "smtp", plain text, AUTH
    optional (PLAIN, LOGIN against --user); and "smtps", implicit TLS with the same
    self-signed certificate as Dovecot, where AUTH is required before MAIL (530 otherwise):
    PLAIN and LOGIN against --user, or XOAUTH2 with an access token currently issued by the
    OAuth2 endpoint below for that same user. A failed XOAUTH2 is answered like Gmail: a
    "334 " challenge with base64 {"status":"400",...} and, after the client's empty reply,
    "535 5.7.8 Username and Password not accepted". On both listeners every accepted
    message is saved to DIR/captured/NNNNNN.json ({"mail_from", "rcpt_tos"}) and then
    NNNNNN.eml (raw bytes), and delivered over LMTP to each recipient's INBOX.
  * An OAuth2 endpoint: POST /token (refresh_token grant, Google style) and
    /introspect (RFC 7662 style, used by Dovecot).

When ready it prints one JSON line with the ports (imap, imaps, lmtp, smtp, smtps, oauth;
imaps and smtps are null without openssl), then answers one JSON line per stdin command:
ping, restart-imap, renumber USER, smtp-mode ok|451|550, smtp-down, smtp-up, fill USER N,
oauth-revoke, quit. smtp-mode, smtp-down and smtp-up act on both SMTP listeners.
EOF on stdin or SIGTERM stops everything.
When run as root, Dovecot runs entirely as nobody/nogroup.
"""
import argparse, asyncio, base64, grp, json, logging, os, pwd, random, re, secrets, shutil
import signal, smtplib, socket, ssl, subprocess, sys, tempfile, threading, time, unicodedata
import warnings
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime, formataddr
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword
except ImportError:
    sys.exit("mailserver.py: the Python package 'aiosmtpd' is missing (pip install aiosmtpd)")

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
ROOT = os.geteuid() == 0
# Identity Dovecot runs as: nobody/nogroup under root, else the current user.
UID, GID = (pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid) if ROOT else (os.getuid(), os.getgid())
USER_NAME, GROUP_NAME = pwd.getpwuid(UID).pw_name, grp.getgrgid(GID).gr_name


def log(*a):
    print("mailserver:", *a, file=sys.stderr, flush=True)


def own(path):
    """Hand a path we created over to the Dovecot user."""
    if ROOT:
        os.chown(path, UID, GID)


def free_ports(n):
    """n ports free to listen on, below the kernel's ephemeral range. The servers restart on
    their ports (restart-imap, renumber, smtp-up), and a port of the ephemeral range may
    meanwhile have become the source port of any outgoing connection on the machine (seen:
    Dovecot's restart failing with "Address already in use")."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    pick = random.SystemRandom()
    socks = []
    for _ in range(1000):
        if len(socks) == n:
            break
        try:
            socks.append(socket.create_server(("127.0.0.1", pick.randrange(10000, max(low, 10001)))))
        except OSError:
            continue  # taken
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    if len(ports) < n:
        sys.exit(f"mailserver.py: found only {len(ports)} of {n} free ports below {low}")
    return ports


def signal_group(pgid, sig):
    """Send sig to a process group; False if the group no longer exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    own(path)


# ---------------------------------------------------------------- OAuth2 endpoint
class OAuth:
    def __init__(self, refresh):
        self.refresh = refresh           # refresh token -> user
        self.tokens = {}                 # access token -> (user, expiry)
        self.lock = threading.Lock()
        oauth = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def form(self):  # query string and urlencoded body
                n = int(self.headers.get("Content-Length") or 0)
                q = parse_qs(self.rfile.read(n).decode(), keep_blank_values=True)
                q.update(parse_qs(urlsplit(self.path).query))
                return {k: v[0] for k, v in q.items()}

            def do_POST(self):
                self.route(self.form())

            do_GET = do_POST

            def route(self, f):
                path = urlsplit(self.path).path
                if path == "/token":
                    if f.get("grant_type") != "refresh_token":
                        return self.reply(400, {"error": "unsupported_grant_type"})
                    user = oauth.refresh.get(f.get("refresh_token", ""))
                    if user is None:
                        return self.reply(400, {"error": "invalid_grant", "error_description": "Bad Request"})
                    token = "ya29." + secrets.token_urlsafe(32)
                    with oauth.lock:
                        oauth.tokens[token] = (user, time.time() + 3600)
                    return self.reply(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer",
                                            "scope": "https://mail.google.com/"})
                if path == "/introspect":
                    auth = self.headers.get("Authorization", "")
                    token = f.get("token") or f.get("access_token") or (auth[7:] if auth[:7].lower() == "bearer " else "")
                    with oauth.lock:
                        user, exp = oauth.tokens.get(token, (None, 0))
                    if user is None or exp < time.time():
                        return self.reply(200, {"active": False})
                    return self.reply(200, {"active": True, "email": user, "sub": user, "exp": int(exp),
                                            "scope": "https://mail.google.com/", "token_type": "Bearer"})
                self.reply(404, {"error": "not_found"})

        class Server(ThreadingHTTPServer):
            daemon_threads, request_queue_size = True, 128

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def revoke(self):
        with self.lock:
            self.tokens.clear()

    def valid(self, user, token):
        """Is token an access token currently issued for user (case-insensitive)?"""
        with self.lock:
            owner, exp = self.tokens.get(token, (None, 0))
        return owner is not None and exp >= time.time() and owner.lower() == user.lower()


# ---------------------------------------------------------------- Dovecot
class Dovecot:
    def __init__(self, d, users, oauth_port, ports):
        self.d, self.proc = d, None
        self.imap, self.imaps, self.lmtp = ports
        # Unix socket paths are limited to ~108 bytes: keep base_dir short.
        run = os.path.join(d, "run")
        self.run = run if len(run) < 60 else tempfile.mkdtemp(prefix="dovecot-")
        for sub in (self.run, f"{d}/state", f"{d}/mail", f"{d}/tls"):
            os.makedirs(sub, exist_ok=True)
            os.chmod(sub, 0o755)  # Dovecot wants base_dir world-readable
            own(sub)
        # Self-signed certificate (kept across restarts); without openssl: no TLS, imaps null.
        self.cert, key = f"{d}/tls/cert.pem", f"{d}/tls/key.pem"
        if not os.path.exists(self.cert) and shutil.which("openssl"):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-days", "3650", "-subj", "/CN=localhost", "-keyout", key, "-out", self.cert,
                            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                            # An end-entity certificate (not a CA), so a client may trust it
                            # directly as its own root.
                            "-addext", "basicConstraints=critical,CA:FALSE",
                            "-addext", "extendedKeyUsage=serverAuth"], check=True, capture_output=True)
            os.chmod(key, 0o600)
            own(key)
            own(self.cert)
        if not os.path.exists(self.cert):
            self.cert = self.imaps = None
        tls = f"ssl = yes\nssl_cert = <{self.cert}\nssl_key = <{key}" if self.cert else "ssl = no"
        imaps = f"inet_listener imaps {{\n    port = {self.imaps}\n    ssl = yes\n  }}" \
            if self.cert else ""
        # {PLAIN.b64} so that passwords may contain ':' or anything else.
        write(f"{d}/passwd", "".join(f"{u}:{{PLAIN.b64}}{base64.b64encode(p.encode()).decode()}\n"
                                     for u, p in users.items()), 0o600)
        write(f"{d}/oauth2.conf.ext", f"""\
introspection_mode = post
introspection_url = http://127.0.0.1:{oauth_port}/introspect
username_attribute = email
active_attribute = active
active_value = true
timeout_msecs = 5000
""", 0o600)
        write(f"{d}/dovecot.conf", f"""\
protocols = imap lmtp
# every inet_listener below binds to loopback only
listen = 127.0.0.1
base_dir = {self.run}
state_dir = {d}/state
log_path = {d}/dovecot.log
default_login_user = {USER_NAME}
default_internal_user = {USER_NAME}
default_internal_group = {GROUP_NAME}
first_valid_uid = {UID}
first_valid_gid = {GID}
{tls}
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0
mail_max_userip_connections = 1000
mail_location = maildir:~/Maildir
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = username_format=%Lu {d}/passwd
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {d}/oauth2.conf.ext
}}
userdb {{
  driver = static
  args = uid={UID} gid={GID} home={d}/mail/%Lu allow_all_users=yes
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {self.imap}
  }}
  {imaps}
}}
service lmtp {{
  inet_listener lmtp {{
    port = {self.lmtp}
  }}
}}
service anvil {{
  chroot =
  # No auth-penalty socket: failed logins are not followed by 2..15 s delays.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth-worker {{
  user = $default_internal_user
}}
""")

    def start(self):
        # setpriv drops to the Dovecot user and makes the master die with this script
        # (PR_SET_PDEATHSIG), even if we are SIGKILLed; the master then stops its children.
        ids = ["--reuid", str(UID), "--regid", str(GID), "--clear-groups"] if ROOT else []
        cmd = [DOVECOT, "-F", "-c", f"{self.d}/dovecot.conf"]
        if shutil.which("setpriv"):
            cmd = ["setpriv", *ids, "--pdeathsig", "TERM", "--", *cmd]
        elif ROOT:
            sys.exit("mailserver.py: setpriv (util-linux) is needed to run dovecot as nobody")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=sys.stderr,
                                     start_new_session=True)
        deadline = time.time() + 10
        for port, greeting in ((self.imap, b"* OK"), (self.lmtp, b"220")):
            while not self._greets(port, greeting):
                if self.proc.poll() is not None or time.time() > deadline:
                    self.stop()
                    try:
                        with open(f"{self.d}/dovecot.log", errors="replace") as f:
                            tail = "".join(f.readlines()[-15:])
                    except OSError:
                        tail = ""
                    raise RuntimeError(f"dovecot did not start; end of {self.d}/dovecot.log:\n{tail}")
                time.sleep(0.01)

    def _greets(self, port, greeting):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                return s.recv(64).startswith(greeting)
        except OSError:
            return False

    def stop(self):
        p, self.proc = self.proc, None
        if p is None:
            return
        # SIGTERM to the whole process group (the master leads its own session): a SIGTERM
        # to the master alone makes it wait ~1 s for its children before exiting.
        signal_group(p.pid, signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.time() + 1
        while signal_group(p.pid, 0) and time.time() < deadline:
            time.sleep(0.01)
        signal_group(p.pid, signal.SIGKILL)  # whatever is left
        p.wait()

    def cleanup(self):
        self.stop()
        if self.run != os.path.join(self.d, "run"):
            shutil.rmtree(self.run, ignore_errors=True)


# ---------------------------------------------------------------- capturing SMTP
XOAUTH2_ERROR = base64.b64encode(b'{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}')


class Smtp:
    """aiosmtpd handler and listeners (plain "smtp"; implicit-TLS "smtps" when a certificate
    exists): fault injection, capture to DIR/captured, relay over LMTP."""

    def __init__(self, d, users, oauth, port, lmtp_port, smtps_port=None, cert=None, key=None):
        self.dir, self.users, self.oauth, self.lmtp_port = f"{d}/captured", users, oauth, lmtp_port
        self.mode, self.ctls, self.lock = "ok", [], threading.Lock()
        # (port, SMTP parameters): the plain listener offers PLAIN and LOGIN and requires nothing.
        self.listeners = [(port, dict(auth_required=False, auth_exclude_mechanism=["XOAUTH2"]))]
        if smtps_port and cert:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(cert, key)
            # Implicit TLS is invisible to aiosmtpd (it only knows STARTTLS), hence
            # auth_require_tls=False even though every byte is encrypted.
            self.listeners.append((smtps_port, dict(ssl_context=tls, auth_required=True)))
        os.makedirs(self.dir, exist_ok=True)
        self.seq = max((int(n[:6]) for n in os.listdir(self.dir) if n[:6].isdigit()), default=0)

    def up(self):
        if not self.ctls:  # always the same ports: down/up looks like a server restart
            for port, params in self.listeners:
                ctl = Controller(self, hostname="127.0.0.1", port=port, server_hostname="mx.test",
                                 authenticator=self.auth, auth_require_tls=False, **params)
                ctl.start()
                self.ctls.append(ctl)

    def down(self):
        ctls, self.ctls = self.ctls, []
        for ctl in ctls:
            ctl.stop()  # closes the listener and drops open sessions

    def auth(self, server, session, envelope, mechanism, data):
        ok = isinstance(data, LoginPassword) and \
            self.users.get(data.login.decode(errors="replace").lower()) == data.password.decode(errors="replace")
        # handled=False: aiosmtpd itself answers 535 on failure.
        return AuthResult(success=ok, handled=False, auth_data=data)

    async def auth_XOAUTH2(self, server, args):
        """SASL XOAUTH2: base64 of "user=U\\x01auth=Bearer TOKEN\\x01\\x01", as the initial
        response on the AUTH line or after an empty "334 " challenge."""
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:  # "*" or bad base64: aiosmtpd has answered 501
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except ValueError:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        fields = dict(f.partition("=")[::2] for f in blob.decode(errors="replace").split("\x01") if f)
        user = fields.get("user", "")
        scheme, _, token = fields.get("auth", "").partition(" ")
        if user and scheme.lower() == "bearer" and self.oauth.valid(user, token.strip()):
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        # Like Gmail: an error challenge, then 535 once the client has answered it (with an
        # empty line).
        await server.push(b"334 " + XOAUTH2_ERROR)
        await server._reader.readline()
        return AuthResult(success=False, handled=False, message="535 5.7.8 Username and Password not accepted")

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "451":
            return "451 4.3.0 try later"
        if self.mode == "550":
            return "550 5.1.1 no such user"
        raw = envelope.original_content or envelope.content
        mail_from = "" if envelope.mail_from in (None, "<>") else envelope.mail_from  # "" = null sender
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.relay, mail_from, envelope.rcpt_tos, raw)
        except (OSError, smtplib.SMTPException) as e:
            log("LMTP relay failed:", e)
            return "451 4.4.1 relay to LMTP failed"
        meta = json.dumps({"mail_from": mail_from, "rcpt_tos": envelope.rcpt_tos}).encode()
        with self.lock:  # each listener runs its own event loop thread
            self.seq += 1
            base = f"{self.dir}/{self.seq:06d}"
            for ext, data in ((".json", meta), (".eml", raw)):  # the .eml appears last
                with open(base + ext + ".tmp", "wb") as f:
                    f.write(data)
                os.rename(base + ext + ".tmp", base + ext)
        return "250 2.0.0 OK captured " + os.path.basename(base)

    def relay(self, mail_from, rcpts, raw):
        # One LMTP transaction per recipient: smtplib reads a single reply after DATA.
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=30) as lmtp:
            for rcpt in rcpts:
                lmtp.sendmail(mail_from, [rcpt], raw)


# ---------------------------------------------------------------- fill: synthetic mail
FIRST = "Ana Bruno Carla Diego Elena Farid Grace Hiro Inês José Kofi Lena Marta Nikolai Olga Priya Raúl Sofia Tomás Yuki".split()
LAST = "Almeida Becker Costa Dubois Evans Fischer García Hansen Ivanova Jensen Kowalski López Müller Novak Okafor Pereira Rossi Schmidt Tanaka Weber".split()
DOMAINS = "gmail.com outlook.com yahoo.co.uk example.org globex.test initech.test umbrella.test stark.test".split()
TOPICS = ["Cannot log in to my account", "Invoice #{n} charged twice", "Refund request for order {n}",
          "Password reset email never arrives", "How do I export my data?", "App crashes on startup",
          "Upgrade to the business plan", "Shipping delay on order {n}", "Wrong VAT number on invoice",
          "Two-factor code not accepted", "Feature request: dark mode", "Cancel my subscription",
          "API returns 500 since this morning", "Change the billing address", "Olá, preciso de ajuda com a fatura",
          "Problema con mi pedido {n}", "Urgent: site down for all our users", "Question about your SLA"]
LINES = ["I have been trying to sort this out since yesterday without any luck.",
         "Could you please have a look at it as soon as possible?", "Our team relies on this every day.",
         "I already tried clearing the cache and signing in again.", "The order number is in the subject.",
         "Attached is a description of what happens when I click the button.",
         "This started after the last update.", "Thanks in advance for your help.",
         "Let me know if you need any more details from my side.", "It worked fine last week."]


class Filler:
    def __init__(self, d):
        self.d, self.seq, self.rng = d, 0, random.Random(0x5EED)

    def message(self, user, when):
        r, self.seq = self.rng, self.seq + 1
        first, last, dom = r.choice(FIRST), r.choice(LAST), r.choice(DOMAINS)
        name = f"{first} {last}"
        addr = unicodedata.normalize("NFKD", f"{first}.{last}@{dom}".lower()).encode("ascii", "ignore").decode()
        subject = r.choice(TOPICS).format(n=r.randint(10000, 99999))
        when = datetime.fromtimestamp(when, timezone(timedelta(hours=r.choice([-5, 0, 1, 2, 9]))))
        mid = f"<{int(time.time())}.{self.seq}.{r.getrandbits(48):012x}@{dom}>"
        paras = ["Hello,", " ".join(r.sample(LINES, r.randint(2, 5))), f"Best regards,\n{name}"]
        head = [f"Return-Path: <{addr}>", f"From: {formataddr((name, addr), 'utf-8')}", f"To: <{user}>",
                f"Date: {format_datetime(when)}", f"Message-ID: {mid}"]
        intro, quoted = "", []
        if r.random() < 0.3:  # a reply with quoted history
            parent = f"<{r.getrandbits(64):016x}@{user.split('@')[-1]}>"
            subject = "Re: " + subject
            head += [f"In-Reply-To: {parent}", f"References: <{r.getrandbits(64):016x}@{dom}> {parent}"]
            intro = f"On {format_datetime(when - timedelta(hours=r.randint(1, 48)))}, Support <{user}> wrote:"
            quoted = [f"Hi {first},", "", "Thanks for reaching out. Could you tell us more about the problem?",
                      "", "-- ", "Support team"]
        text = "\n\n".join(paras) + "\n"
        if quoted:
            text += f"\n{intro}\n" + "".join(f"> {q}".rstrip() + "\n" for q in quoted)
        head.append("Subject: " + (subject if subject.isascii() else Header(subject, "utf-8").encode()))
        head.append("MIME-Version: 1.0")
        if r.random() < 0.35:  # multipart/alternative text + HTML
            b = f"=_{r.getrandbits(64):016x}"
            html = "".join(f"<p>{escape(p)}</p>".replace("\n", "<br>") for p in paras)
            if quoted:
                html += f"<p>{escape(intro)}</p><blockquote>{'<br>'.join(map(escape, quoted))}</blockquote>"
            head.append(f'Content-Type: multipart/alternative; boundary="{b}"')
            part = "Content-Type: text/{}; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{}"
            text = (f"--{b}\n{part.format('plain', text)}\n--{b}\n"
                    f"{part.format('html', '<html><body>' + html + '</body></html>')}\n--{b}--\n")
        else:
            head += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
        return ("\n".join(head) + "\n\n" + text).encode()

    def fill(self, user, count):
        user = user.lower()
        if not re.fullmatch(r"[^/\s]+", user) or user.startswith("."):
            raise ValueError(f"bad user name {user!r}")
        box = f"{self.d}/mail/{user}/Maildir"
        for p in (f"{self.d}/mail/{user}", box, box + "/cur", box + "/new", box + "/tmp"):
            if not os.path.isdir(p):
                os.makedirs(p, 0o700)
                own(p)
        now, pid = time.time(), os.getpid()
        for i in range(count):  # oldest first, about a minute apart
            data = self.message(user, now - (count - i) * 60 + self.rng.randint(0, 50))
            vsize = len(data) + data.count(b"\n")  # size with CRLF line ends
            name = f"{int(now)}.M{i}P{pid}Q{self.seq}.mailserver,S={len(data)},W={vsize}"
            fd = os.open(f"{box}/tmp/{name}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, data)
            if ROOT:
                os.fchown(fd, UID, GID)
            os.close(fd)
            os.rename(f"{box}/tmp/{name}", f"{box}/new/{name}")


# ---------------------------------------------------------------- main
def pairs(values, what):
    out = {}
    for v in values:
        k, sep, rest = v.partition(":")
        if not sep or not k:
            sys.exit(f"mailserver.py: {what} must look like ADDRESS:VALUE, got {v!r}")
        out[k.lower()] = rest
    return out


def check_reachable(d):
    """nobody must be able to reach DIR: every ancestor needs o+x."""
    for p in Path(d).parents:
        if not p.stat().st_mode & 0o001:
            sys.exit(f"mailserver.py: {p} is not searchable by others; nobody cannot reach {d}")


def main():
    ap = argparse.ArgumentParser(description="Dovecot + capturing SMTP + OAuth2 on 127.0.0.1 for tests")
    ap.add_argument("--dir", required=True, help="directory for config, mail and captured messages")
    ap.add_argument("--user", action="append", default=[], metavar="ADDRESS:PASSWORD")
    ap.add_argument("--oauth", action="append", default=[], metavar="ADDRESS:REFRESH_TOKEN")
    a = ap.parse_args()
    if not os.path.exists(DOVECOT):
        sys.exit("mailserver.py: dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)")
    os.umask(0o022)
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's AUTH-without-TLS warning
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")  # smtps: TLS is implicit
    d = os.path.abspath(a.dir)
    os.makedirs(d, exist_ok=True)
    if ROOT:
        check_reachable(d)
        os.chmod(d, 0o755)
    own(d)
    users = pairs(a.user, "--user")
    oauth = OAuth({tok: u for u, tok in pairs(a.oauth, "--oauth").items()})
    imap, imaps, lmtp, smtp_port, smtps_port = free_ports(5)
    dovecot = Dovecot(d, users, oauth.port, (imap, imaps, lmtp))
    if not dovecot.cert:
        smtps_port = None
    smtp = Smtp(d, users, oauth, smtp_port, lmtp, smtps_port, dovecot.cert, f"{d}/tls/key.pem")

    def on_signal(signum, frame):
        raise SystemExit(0)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    filler, quitting = Filler(d), False
    try:
        dovecot.start()
        smtp.up()
        print(json.dumps({"imap": imap, "imaps": dovecot.imaps, "lmtp": lmtp, "smtp": smtp_port,
                          "smtps": smtps_port, "oauth": f"http://127.0.0.1:{oauth.port}", "dir": d,
                          "cert": dovecot.cert}), flush=True)
        for line in sys.stdin:
            cmd = line.split()
            if not cmd:
                continue
            try:
                ans = {"ok": True}
                if cmd[0] == "ping":
                    pass
                elif cmd[0] == "restart-imap":
                    dovecot.stop()
                    dovecot.start()
                elif cmd[0] == "renumber" and len(cmd) == 2 and "/" not in cmd[1] and not cmd[1].startswith("."):
                    # Dovecot forgets the folder's UIDs: a new UIDVALIDITY, as after a
                    # server migration or a rebuilt index.
                    dovecot.stop()
                    maildir = Path(d) / "mail" / cmd[1].lower() / "Maildir"
                    for f in maildir.glob("dovecot*"):
                        f.unlink() if f.is_file() else shutil.rmtree(f)
                    time.sleep(1.1)  # UIDVALIDITY is a timestamp in seconds
                    dovecot.start()
                elif cmd[0] == "smtp-mode" and len(cmd) == 2 and cmd[1] in ("ok", "451", "550"):
                    smtp.mode = ans["mode"] = cmd[1]
                elif cmd[0] == "smtp-down":
                    smtp.down()
                elif cmd[0] == "smtp-up":
                    smtp.up()
                elif cmd[0] == "fill" and len(cmd) == 3 and cmd[2].isdigit():
                    t = time.time()
                    filler.fill(cmd[1], int(cmd[2]))
                    ans.update(user=cmd[1].lower(), count=int(cmd[2]), secs=round(time.time() - t, 3))
                elif cmd[0] == "oauth-revoke":
                    oauth.revoke()
                elif cmd[0] == "quit":
                    quitting = True  # answered once everything has stopped
                    break
                else:
                    ans = {"ok": False, "error": f"unknown command: {line.strip()}"}
            except Exception as e:  # report and keep serving
                ans = {"ok": False, "error": f"{type(e).__name__}: {e}"}
            print(json.dumps(ans), flush=True)
    except RuntimeError as e:
        log(e)
        sys.exit(1)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):  # finish the cleanup undisturbed
            signal.signal(sig, signal.SIG_IGN)
        smtp.down()
        dovecot.cleanup()
        oauth.server.shutdown()
        if quitting:
            print(json.dumps({"ok": True}), flush=True)


if __name__ == "__main__":
    main()
