//! The hostile-plugin lab: a folder with copies of the plugins, a store, and one runtime shared by
//! every rollout it runs in this process. Each hostile suite (`tests/hostile_*.rs`) runs its attacks
//! here, then checks that a good rollout in the same process still succeeds.

use std::path::{Path, PathBuf};

use upshift::engine::Phase;
use upshift::rollout::{self, Reporter, RolloutPlugins, RunOptions, Runner};
use upshift::runtime::{Digest, Runtime};
use upshift::spec::RolloutSpec;
use upshift::store::{JournalEntry, Store};
use upshift::trust::TrustPolicy;

use super::fixture;

/// A folder with copies of the plugins, a store, and one runtime shared by every rollout it runs.
pub struct Lab {
    pub dir: tempfile::TempDir,
    /// Unsigned files are allowed here, except where a test checks signatures.
    pub trust: TrustPolicy,
    pub runtime: Runtime,
    pub store: Store,
    runs: usize,
}

/// What a rollout left behind.
pub struct Ended {
    pub phase: Phase,
    pub history: Vec<JournalEntry>,
}

impl Ended {
    pub fn text(&self) -> String {
        self.history.iter().map(|e| format!("{}\n", e.message)).collect()
    }
}

pub struct Quiet;

impl Reporter for Quiet {
    fn committed(&mut self, _: &[upshift::store::NewEntry], _: &upshift::engine::State, _: &rollout::Plan) {}
    fn waiting(&mut self, _: &str, _: &upshift::engine::State) {}
    fn baking(&mut self, _: &upshift::engine::State, _: &rollout::Plan, _: std::time::Duration) {}
}

impl Lab {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("state.db")).unwrap();
        let trust = TrustPolicy { allow_unsigned: true, ..TrustPolicy::default() };
        Lab { runtime: Runtime::new().unwrap(), store, dir, trust, runs: 0 }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Copies component `name` into the lab; returns the spec lines that pin it.
    pub fn plugin(&self, name: &str) -> String {
        self.install(name, &std::fs::read(fixture(name)).unwrap())
    }

    /// Writes `bytes` into the lab as `<name>.wasm`; returns the spec lines that pin it.
    pub fn install(&self, name: &str, bytes: &[u8]) -> String {
        let file = format!("{name}.wasm");
        std::fs::write(self.path(&file), bytes).unwrap();
        format!("file = \"{file}\"\nsha256 = \"{}\"", Digest::of(bytes))
    }

    /// A rollout of the recorder target through one canary stage, judged by `verifier` (a
    /// `[[verifiers]]` body); `target` replaces the target body when given.
    pub fn spec(&self, verifier: &str, target: Option<&str>) -> String {
        self.compose(target, None, Some(verifier), "")
    }

    /// A spec from its parts (each the body of its section; `None` takes the lab's default: the
    /// recorder target over units a and b, a one-unit canary, no verifier), followed by `extra`
    /// (whole TOML tables such as `[connections.x]`).
    pub fn compose(&self, target: Option<&str>, strategy: Option<&str>, verifier: Option<&str>, extra: &str) -> String {
        let target = target.map_or_else(
            || format!("{}\nconfig = {{ units = [\"a\", \"b\"] }}", self.plugin("recorder")),
            str::to_string,
        );
        let strategy = strategy.unwrap_or("plugin = \"canary\"\nconfig = { steps = [{ units = 1 }] }");
        let verifier = verifier.map_or_else(String::new, |v| format!("[[verifiers]]\n{v}\n\n"));
        format!(
            "name = \"lab\"\nfrom = \"1\"\nto = \"2\"\n\n[target]\n{target}\n\n[strategy]\n{strategy}\n\n{verifier}\
             [failure_policy]\non_fail = \"rollback\"\non_error = \"rollback\"\nmax_consecutive_errors = 1\n\n{extra}\n"
        )
    }

    /// Runs the rollout `text` in this process; a plugin refused at load time or a plan refused
    /// before anything changed is an `Err`.
    pub fn run(&mut self, text: &str) -> Result<Ended, String> {
        self.runs += 1;
        let path = self.path(&format!("spec-{}.toml", self.runs));
        std::fs::write(&path, text).unwrap();
        let spec = RolloutSpec::parse(&path, text).map_err(|e| e.to_string())?;
        let mut plugins = RolloutPlugins::load(&self.runtime, &spec, &self.trust, |_| Default::default())
            .map_err(|e| e.to_string())?;
        let (id, plan) = rollout::create(&mut self.store, &spec, &path, &mut plugins, "lab", &[], None)
            .map_err(|e| e.to_string())?;
        let opts = RunOptions {
            actor: "lab".into(),
            wait_for_humans: false,
            trust: self.trust.clone(),
            dev: false,
            controller: false,
            stop: None,
            committer: None,
        };
        let phase =
            Runner::with_plugins(&mut self.store, &id, spec, plan, plugins, opts).unwrap().run(&mut Quiet).unwrap();
        Ok(Ended { phase, history: self.store.history(&id).unwrap() })
    }

    /// A well-behaved rollout in the same process still succeeds.
    pub fn assert_next_rollout_runs(&mut self) {
        let good = self.spec(&format!("{}\nconfig = {{ value = 0.001, max = 0.01 }}", self.plugin("threshold")), None);
        let ended = self.run(&good).expect("the good rollout loads");
        assert_eq!(ended.phase, Phase::Succeeded, "{}", ended.text());
    }

    /// Runs a hostile verifier; asserts a safe end whose history names the plugin and `stopper`.
    pub fn attack(&mut self, name: &str, extra: &str, stopper: &str) -> Ended {
        let pinned = self.plugin(name);
        self.attack_pinned(name, &pinned, extra, stopper)
    }

    /// [`Lab::attack`] with a verifier already in the lab (`pinned`, from [`Lab::install`]).
    pub fn attack_pinned(&mut self, name: &str, pinned: &str, extra: &str, stopper: &str) -> Ended {
        let verifier = format!("{pinned}\n{extra}");
        let ended = self.run(&self.spec(&verifier, None)).expect("the hostile plugin loads");
        let text = ended.text();
        assert_eq!(ended.phase, Phase::RolledBack, "{text}");
        assert!(!text.contains("ESCAPED"), "the attack succeeded:\n{text}");
        let line = text.lines().find(|l| l.contains(stopper)).unwrap_or_else(|| panic!("no {stopper:?} in:\n{text}"));
        assert!(
            line.contains(&format!("{name}.wasm")) || line.contains(name),
            "the error does not name the plugin: {line}"
        );
        println!("{name}: stopped by: {line}");
        self.assert_next_rollout_runs();
        ended
    }
}

/// The bytes of files an attack aims at, taken before it, to prove afterwards that nothing changed.
pub struct Victims(Vec<(PathBuf, Option<Vec<u8>>)>);

impl Victims {
    /// Records the current bytes of `paths` (a missing file is recorded as missing).
    pub fn record(paths: &[&Path]) -> Self {
        Victims(paths.iter().map(|p| (p.to_path_buf(), std::fs::read(p).ok())).collect())
    }

    /// Asserts every recorded file is byte for byte as it was (and a missing one is still missing).
    pub fn assert_unchanged(&self) {
        for (path, before) in &self.0 {
            let now = std::fs::read(path).ok();
            assert!(now == *before, "{} changed under the attack", path.display());
        }
    }
}
