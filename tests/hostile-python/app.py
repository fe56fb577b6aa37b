"""A hostile verifier in Python (tests/python_plugins.rs): the config's `attack` picks what it
tries, each of which the host's sandbox must stop the same way it stops a Rust plugin:

- `read-passwd`: read /etc/passwd (no folder is granted: there is no filesystem to read);
- `loop`: never return (the call's deadline ends it);
- `alloc`: allocate far past the memory limit (the limit traps the allocation);
- `none`: pass, so the same component is shown to work."""

import json

import upshift_plugin as up


class Hostile:
    def verify(self, check, config):
        attack = config.get("attack", "none")
        if attack == "read-passwd":
            with open("/etc/passwd") as f:
                return up.Verdict.pass_(f"read /etc/passwd: {f.read()[:200]!r}")
        if attack == "loop":
            n = 0
            while True:
                n += 1
        if attack == "alloc":
            hoard = []
            while True:
                hoard.append(bytearray(16 << 20))
        return up.Verdict.pass_("no attack")


Verifier = up.export_verifier(Hostile)
