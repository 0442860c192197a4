"""A real OpenSSH server for the SFTP tests: `sshd` on a free loopback port with a throwaway host key and
user key, serving `internal-sftp` from a fresh folder.

As root (CI), the server logs users in as a throwaway system user (created once, with a random password
for the password-authentication test), so that file permissions bind as they do for a real account; as
another user, it serves that user (key authentication only: sshd cannot check passwords unprivileged).
"""
from __future__ import annotations

import base64
import io
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import paramiko

SSHD = shutil.which("sshd") or next((p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if Path(p).exists()),
                                    None)
SFTP_USER = "inkasso-sftp-test"
MISSING = ("OpenSSH server (sshd) not installed; `.ci/run` installs it "
           "(apt-get install openssh-server): the SFTP tests skip")


@dataclass
class SftpServer:
    host: str
    port: int
    user: str
    password: str | None       # None: password authentication cannot be tested (not root)
    root: Path                 # the folder internal-sftp starts in (the login's relative paths)
    host_key: str              # "ssh-ed25519 AAAA…": the known-hosts entry
    user_key: str              # the user's private key, OpenSSH PEM text
    user_key_file: Path
    folder: Path
    process: subprocess.Popen

    def connection(self, **extra) -> dict:
        """An Airflow connection (JSON form of AIRFLOW_CONN_…) for this server, with key authentication."""
        return {"conn_type": "sftp", "host": self.host, "port": self.port, "login": self.user,
                "extra": {"host_key": self.host_key, "private_key": self.user_key, **extra}}

    @contextmanager
    def client(self) -> Iterator[paramiko.SFTPClient]:
        """An SFTP client logged in as the user, as a creditor's system would be (host key checked)."""
        ssh = paramiko.SSHClient()
        key_type, data = self.host_key.split()
        ssh.get_host_keys().add(f"[{self.host}]:{self.port}", key_type,
                                paramiko.PKey.from_type_string(key_type, base64.b64decode(data)))
        ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
        ssh.connect(self.host, self.port, self.user, key_filename=str(self.user_key_file), look_for_keys=False,
                    allow_agent=False, timeout=10)
        try:
            yield ssh.open_sftp()
        finally:
            ssh.close()

    def upload(self, relative: str, data: bytes | str) -> None:
        """Put a file under the server's root as a creditor would (folders made as needed)."""
        data = data.encode() if isinstance(data, str) else data
        with self.client() as sftp:
            folder = ""
            for part in relative.split("/")[:-1]:
                folder = f"{folder}/{part}" if folder else part
                try:
                    sftp.mkdir(folder)
                except OSError:
                    pass
            sftp.putfo(io.BytesIO(data), relative)

    def download(self, relative: str) -> bytes:
        with self.client() as sftp:
            return sftp.open(relative, "rb").read()

    def listdir(self, relative: str) -> list[str]:
        with self.client() as sftp:
            try:
                return sorted(sftp.listdir(relative))
            except FileNotFoundError:
                return []

    def sessions(self) -> list[int]:
        """Pids of the server's per-connection processes: every descendant of the listener (read from /proc,
        fast enough to land while a transfer is under way)."""
        parents = {}
        for stat_file in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat_file.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents.setdefault(int(fields[1]), []).append(int(stat_file.parent.name))
        found, queue = [], [self.process.pid]
        while queue:
            children = parents.get(queue.pop(), [])
            found += children
            queue += children
        return found

    def freeze_sessions(self) -> None:
        """Stop the connections' server processes where they are (SIGSTOP): nothing more is sent."""
        for pid in self.sessions():
            os.kill(pid, signal.SIGSTOP)

    def kill_sessions(self) -> int:
        """Kill every open connection's server processes, as a crash or a dropped line would; return how many
        connections were cut."""
        pids = self.sessions()
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return len(children.stdout.split())

    def own(self, path: Path) -> None:
        """Give ``path`` to the SFTP user (files the test writes as a creditor would)."""
        account = pwd.getpwnam(self.user)
        os.chown(path, account.pw_uid, account.pw_gid)

    def stop(self) -> None:
        """Stop the listener and every session process it started, frozen ones too (SIGKILL ends a stopped
        process): whatever the test did, nothing of the server is left running."""
        sessions = self.sessions()
        for pid in sessions:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        _wait_gone(sessions)


def _wait_gone(pids: list[int], seconds: float = 10) -> None:
    """Wait until none of ``pids`` is alive (a killed orphan is reaped by init; a zombie is not alive)."""
    deadline = time.monotonic() + seconds
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server() -> SftpServer:
    folder = Path(tempfile.mkdtemp(prefix="inkasso-sshd-"))
    folder.chmod(0o755)
    user, password = _login_user()
    root = folder / "sftp"
    root.mkdir()
    _keygen(folder / "host_key")
    _keygen(folder / "user_key")
    (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
    for path in (folder / "authorized_keys", folder / "host_key.pub", folder / "user_key.pub"):
        path.chmod(0o644)
    port = free_port()
    (folder / "sshd_config").write_text(f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {folder / 'host_key'}
PidFile {folder / 'sshd.pid'}
AuthorizedKeysFile {folder / 'authorized_keys'}
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication {'yes' if password else 'no'}
KbdInteractiveAuthentication no
PermitRootLogin no
AllowUsers {user}
Subsystem sftp internal-sftp
ForceCommand internal-sftp -d {root}
LogLevel VERBOSE
""")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        account = pwd.getpwnam(user)
        os.chown(root, account.pw_uid, account.pw_gid)
    log = (folder / "sshd.log").open("wb")
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(folder / "sshd_config")], stdout=log, stderr=log)
    _wait_for_banner(port, process, folder / "sshd.log")
    host_key = " ".join((folder / "host_key.pub").read_text().split()[:2])
    return SftpServer("127.0.0.1", port, user, password, root, host_key, (folder / "user_key").read_text(),
                      folder / "user_key", folder, process)


def remove_server(server: SftpServer) -> None:
    server.stop()
    shutil.rmtree(server.folder, ignore_errors=True)


def _login_user() -> tuple[str, str | None]:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name, None
    password = secrets.token_urlsafe(18)
    try:
        pwd.getpwnam(SFTP_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", SFTP_USER], check=True)
    subprocess.run(["chpasswd"], input=f"{SFTP_USER}:{password}", text=True, check=True)
    return SFTP_USER, password


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "inkasso-test", "-f", str(path)],
                   check=True)


def _wait_for_banner(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}: {log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"sshd did not answer on port {port}: {log.read_text()}")
