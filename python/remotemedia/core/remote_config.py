"""`RemoteExecutorConfig`: where a remote remotemedia instance listens.

The fields are the upstream SDK's (host, port, protocol, auth_token, timeout, max_retries,
ssl_enabled, pip_packages), so code written for it constructs the same object. Only `host:port`
goes into a manifest: the token, TLS, timeouts and retries are the settings of whoever runs the
manifest (`remotemedia run --token-file … --tls-ca …`, `REMOTEMEDIA_TOKEN`), never written into a
file that gets shared, and a `remotemedia serve` host never installs packages on request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remotemedia.core.exceptions import ConfigurationError

if TYPE_CHECKING:
    from remotemedia.core.node import Node
    from remotemedia.nodes.remote import RemoteExecutionNode

DEFAULT_PORT = 50051
PROTOCOL = "grpc"
"""The one protocol remotemedia instances speak (upstream also had "http")."""


@dataclass(frozen=True)
class RemoteExecutorConfig:
    """Where a remote remotemedia instance listens, and how the upstream SDK would have reached it."""

    host: str
    port: int = DEFAULT_PORT
    protocol: str = PROTOCOL
    auth_token: str | None = field(default=None, repr=False)
    """Kept for code that reads it; a run takes its token from `--token-file` or REMOTEMEDIA_TOKEN."""
    timeout: float = 30.0
    max_retries: int = 3
    ssl_enabled: bool = True
    pip_packages: list[str] | None = field(default=None, compare=False)
    """Must be empty: install what a remote node needs on its host (its `--python-path` or CPython)."""

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host or any(ch.isspace() or ch == "/" for ch in self.host):
            raise ConfigurationError(f"remote host must be a host name or IP address, got {self.host!r}")
        if not isinstance(self.port, int) or isinstance(self.port, bool) or not 1 <= self.port <= 65535:
            raise ConfigurationError(f"remote port must be an integer in 1-65535, got {self.port!r}")
        if self.protocol != PROTOCOL:
            raise ConfigurationError(
                f"remote protocol {self.protocol!r} is not supported: remotemedia instances speak {PROTOCOL!r} only"
            )
        if self.auth_token is not None and not isinstance(self.auth_token, str):
            raise ConfigurationError(f"auth_token must be a string, got {type(self.auth_token).__name__}")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) or not self.timeout > 0:
            raise ConfigurationError(f"timeout must be a positive number of seconds, got {self.timeout!r}")
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigurationError(f"max_retries must be a non-negative integer, got {self.max_retries!r}")
        if not isinstance(self.ssl_enabled, bool):
            raise ConfigurationError(f"ssl_enabled must be True or False, got {self.ssl_enabled!r}")
        if self.pip_packages:
            raise ConfigurationError(
                f"pip_packages {list(self.pip_packages)!r}: a remotemedia host never installs packages on request; "
                "install them on the host (into its --python-path or its CPython) before it serves"
            )

    @classmethod
    def from_address(cls, address: str) -> RemoteExecutorConfig:
        """Parse a manifest `host`: `host:port`, or `[ipv6]:port`."""
        host, separator, port = address.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not separator or not port.isdigit():
            raise ConfigurationError(f"remote address must be 'host:port', got {address!r}")
        return cls(host, int(port))

    @property
    def address(self) -> str:
        """`host:port`, with an IPv6 address in brackets so the port stays unambiguous."""
        host = self.host
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{self.port}"

    def __call__(self, target: Node | str, **kwargs: Any) -> RemoteExecutionNode:
        """A `RemoteExecutionNode` running `target` (a node, or a node class name) on this instance.

        The upstream SDK's shorthand: `config("CalculatorNode", node_config={...})` or `config(node)`.
        """
        from remotemedia.nodes.remote import RemoteExecutionNode

        return RemoteExecutionNode(target, self, **kwargs)
