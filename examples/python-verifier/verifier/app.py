"""error-budget: a verifier in Python. It reads the error count and request count the new version
served (a JSON file per version in a granted folder, which a metrics exporter would write) and
fails the stage when the error ratio is over budget; too few requests is inconclusive, never a pass."""

import json
from dataclasses import dataclass, field

import upshift_plugin as up


@dataclass
class Config:
    max_error_ratio: float = field(default=0.01, metadata={"doc": "The largest error ratio that passes."})
    min_requests: int = field(default=100, metadata={"doc": "Fewer requests than this is inconclusive."})
    signals: str = field(default="/signals", metadata={"doc": "The granted folder of <version>.json files."})


class ErrorBudget:
    def check_config(self, config):
        if not 0 <= config.max_error_ratio <= 1:
            raise up.PluginError.invalid_config(f"max_error_ratio = {config.max_error_ratio}: give 0 to 1")

    def verify(self, check, config):
        path = f"{config.signals}/{check.to_version}.json"
        try:
            with open(path) as f:
                signals = json.load(f)
        except FileNotFoundError:
            return up.Verdict.inconclusive(f"no signals for version {check.to_version} yet ({path})")
        requests, errors = int(signals["requests"]), int(signals["errors"])
        up.log.info("signals read", version=check.to_version, requests=requests, errors=errors)
        if requests < config.min_requests:
            return up.Verdict.inconclusive(f"{requests} requests, fewer than {config.min_requests}")
        ratio = errors / requests
        judge = up.Verdict.pass_ if ratio <= config.max_error_ratio else up.Verdict.fail
        verdict = judge(f"error ratio {ratio:.4f} ({errors}/{requests}), budget {config.max_error_ratio}")
        return verdict.measure("error_ratio", ratio, "ratio").measure("requests", requests, "requests")


Verifier = up.export_verifier(ErrorBudget, config=Config)
