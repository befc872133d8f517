"""A secured Kafka broker of its own for the security tests: deploy/local/stack.sh with a
SASL_SSL listener (SCRAM-SHA-512 over TLS, StandardAuthorizer ACLs), Kafka only, on free
ports under a temporary RUN_DIR. Started once per test session (module fixture), wiped after.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from workers import REPO, free_port

from lastmile.io.kafka_access import KafkaAccess, ssl_context

STACK = REPO / "deploy" / "local" / "stack.sh"
ACLS = REPO / "deploy" / "local" / "kafka-acls.sh"
CARRIER_USERS = ("ZTO", "EMS")


@dataclass
class SecureBroker:
    run_dir: Path
    plain_port: int
    controller_port: int
    sasl_port: int
    ssl_port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.sasl_port}"

    @property
    def cafile(self) -> Path:
        return self.run_dir / "kafka" / "tls" / "ca.pem"

    def mtls_env(self, with_certificate: bool = True) -> dict[str, str]:
        """LASTMILE_* variables for the mutual-TLS listener as CN=lastmile (User:lastmile)."""
        tls = self.run_dir / "kafka" / "tls"
        env = {
            "LASTMILE_KAFKA_BOOTSTRAP": f"127.0.0.1:{self.ssl_port}",
            "LASTMILE_KAFKA_SECURITY_PROTOCOL": "SSL",
            "LASTMILE_KAFKA_SSL_CAFILE": str(self.cafile),
        }
        if with_certificate:
            env["LASTMILE_KAFKA_SSL_CERTFILE"] = str(tls / "lastmile.pem")
            env["LASTMILE_KAFKA_SSL_KEYFILE"] = str(tls / "lastmile.key")
        return env

    @property
    def admin_properties(self) -> Path:
        return self.run_dir / "kafka" / "secrets" / "admin.properties"

    def password_file(self, user: str) -> Path:
        return self.run_dir / "kafka" / "secrets" / f"{user}.password"

    def access(self, user: str, password: str | None = None) -> KafkaAccess:
        return KafkaAccess(
            self.bootstrap,
            "SASL_SSL",
            "SCRAM-SHA-512",
            user,
            password or self.password_file(user).read_text().strip(),
            ssl_context(str(self.cafile), "", "", "KAFKA_SSL"),
        )

    def env(self, user: str = "lastmile", **overrides: str) -> dict[str, str]:
        """LASTMILE_* variables of a lastmile process that authenticates as `user`."""
        env = {
            "LASTMILE_KAFKA_BOOTSTRAP": self.bootstrap,
            "LASTMILE_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "LASTMILE_KAFKA_SASL_USERNAME": user,
            "LASTMILE_KAFKA_SASL_PASSWORD_FILE": str(self.password_file(user)),
            "LASTMILE_KAFKA_SSL_CAFILE": str(self.cafile),
        }
        env.update(overrides)
        return env

    def stack(self, command: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env.update(
            RUN_DIR=str(self.run_dir),
            LASTMILE_STACK_SERVICES="kafka",
            LASTMILE_KAFKA_PORT=str(self.plain_port),
            LASTMILE_KAFKA_CONTROLLER_PORT=str(self.controller_port),
            LASTMILE_KAFKA_SASL_PORT=str(self.sasl_port),
            LASTMILE_KAFKA_SSL_PORT=str(self.ssl_port),
            LASTMILE_KAFKA_SCRAM_USERS=" ".join(("lastmile", *CARRIER_USERS)),
            LASTMILE_KAFKA_HEAP="-Xms128m -Xmx512m",
        )
        return subprocess.run(
            ["bash", str(STACK), command],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run_acl_lines(self, lines: list[str]) -> None:
        """Run `lastmile carrier-acls` output with the local kafka-acls.sh, in parallel."""
        procs = [
            subprocess.Popen(
                ["bash", str(ACLS), *shlex.split(line)[1:]],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for line in lines
        ]
        for proc, line in zip(procs, lines, strict=True):
            out, _ = proc.communicate(timeout=120)
            if proc.returncode != 0:
                raise RuntimeError(f"{line}\nfailed ({proc.returncode}):\n{out}")


def start_secure_broker(run_dir: Path) -> SecureBroker:
    broker = SecureBroker(run_dir, free_port(), free_port(), free_port(), free_port())
    up = broker.stack("up")
    if up.returncode != 0:
        broker.stack("clean")
        raise RuntimeError(f"secured broker did not start:\n{up.stdout}\n{up.stderr}")
    return broker
