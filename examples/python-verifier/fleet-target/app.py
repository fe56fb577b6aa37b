"""file-fleet: a target in Python. Each unit is a file in a granted folder whose first line is the
version it runs and whose second line says which rollout operation put it there. A re-sent
operation is safe (units already moved are skipped), and a rollback puts back only the units this
rollout moved: a unit someone else changed is a conflict, left as it is."""

import os
from dataclasses import dataclass, field

import upshift_plugin as up


@dataclass
class Config:
    fleet: str = field(default="/fleet", metadata={"doc": "The granted folder with one file per unit."})


def read(config, unit):
    try:
        with open(os.path.join(config.fleet, unit)) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise up.PluginError.conflict(f"unit {unit} has no file in {config.fleet}") from None
    return (lines[0] if lines else None), (lines[1] if len(lines) > 1 else "")


def write(config, unit, version, by):
    path = os.path.join(config.fleet, unit)
    with open(path + ".new", "w") as f:
        f.write(f"{version}\n{by}\n")
    os.replace(path + ".new", path)


class FileFleet:
    def describe(self):
        return {"name": "file-fleet", "version": "0.1.0", "summary": "units as version files in a folder"}

    def observe(self, config, from_version, to_version):
        units = sorted(n for n in os.listdir(config.fleet) if not n.endswith(".new"))
        return {unit: read(config, unit)[0] for unit in units}

    def move(self, op, config, frm, to, what):
        todo = []
        for unit in op.units:
            version, by = read(config, unit)
            if version == to:
                continue
            if version != frm:
                raise up.PluginError.conflict(f"unit {unit} is at {version}, neither {frm} nor {to}; left as it is")
            if what == "rollback" and not by.startswith(f"{op.rollout_id}/"):
                raise up.PluginError.conflict(f"unit {unit} was not moved by rollout {op.rollout_id}; left as it is")
            todo.append(unit)
        for unit in todo:
            write(config, unit, to, op.id)
            up.log.info(f"{unit}: {frm} -> {to}", operation=op.id)
        return up.Change(f"{what}: {len(todo)} of {len(op.units)} units to {to}", {u: to for u in op.units})

    def apply(self, op, config):
        return self.move(op, config, op.from_version, op.to_version, "apply")

    def rollback(self, op, config):
        return self.move(op, config, op.to_version, op.from_version, "rollback")

    def finalize(self, op, config):
        return self.move(op, config, op.from_version, op.to_version, "finalize")


Target = up.export_target(FileFleet, config=Config)
