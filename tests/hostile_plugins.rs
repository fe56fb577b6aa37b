//! The hostile-plugin suite: one small component per attack (tests/hostile/<name>/). For each, the
//! host survives, the error names the plugin and the limit or grant that stopped it, the rollout
//! ends in a safe state (here: rolled back, per its failure policy), and the next rollout in the
//! same process runs fine. Each test prints what stopped its attack.

mod common;

use upshift::engine::Phase;
use upshift::runtime::Digest;
use upshift::trust::{self, SecretKey, TrustPolicy, TrustedKeys};

use common::fixture;
use common::lab::Lab;

#[test]
fn an_infinite_loop_is_stopped_by_the_call_deadline() {
    Lab::new().attack("infinite-loop", "timeout_seconds = 0.3", "time limit");
}

#[test]
fn a_memory_bomb_is_stopped_by_the_memory_limit() {
    Lab::new().attack("memory-bomb", "memory_mib = 16", "memory limit of 16 MiB");
}

#[test]
fn deep_recursion_is_stopped_by_the_stack_limit() {
    Lab::new().attack("deep-recursion", "", "overflowed its stack");
}

#[test]
fn reading_etc_passwd_finds_no_file_system() {
    Lab::new().attack("read-passwd", "", "blocked:");
}

#[test]
fn writing_outside_a_granted_folder_is_refused() {
    let mut lab = Lab::new();
    std::fs::create_dir(lab.path("scratch")).unwrap();
    lab.attack("write-outside", "grants.files = [{ path = \"scratch\", write = true }]", "blocked:");
    assert_eq!(std::fs::read_to_string(lab.path("scratch/inside.txt")).unwrap(), "allowed", "the grant itself works");
    assert!(!lab.path("outside.txt").exists());
}

#[test]
fn climbing_out_of_a_grant_with_dot_dot_is_refused() {
    let mut lab = Lab::new();
    std::fs::create_dir_all(lab.path("data/sub")).unwrap();
    std::fs::write(lab.path("data/inside.txt"), "granted").unwrap();
    std::fs::write(lab.path("secret.txt"), "not granted").unwrap();
    lab.attack("path-traversal", "grants.files = [\"data\"]", "blocked:");
    assert_eq!(std::fs::read_to_string(lab.path("data/inside.txt")).unwrap(), "granted", "read-only grant kept");
}

#[test]
fn following_a_symlink_out_of_a_grant_is_refused() {
    let mut lab = Lab::new();
    std::fs::create_dir(lab.path("data")).unwrap();
    std::fs::write(lab.path("secret.txt"), "not granted").unwrap();
    std::os::unix::fs::symlink(lab.dir.path(), lab.path("data/escape")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", lab.path("data/passwd-link")).unwrap();
    lab.attack("symlink-escape", "grants.files = [\"data\"]", "blocked:");
}

#[test]
fn connecting_to_an_ungranted_address_is_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let ended = Lab::new().attack("connect-ungranted", &format!("config = {{ address = \"{address}\" }}"), "blocked:");
    assert!(ended.text().contains(&address), "the error names the address");
    assert!(listener.accept().is_err(), "nothing connected");
}

#[test]
fn full_http_requests_reach_only_the_granted_server_and_cannot_smuggle_another_host() {
    use std::io::{Read, Write};
    let ungranted = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ungranted.set_nonblocking(true).unwrap();
    let ungranted_address = ungranted.local_addr().unwrap().to_string();
    // The granted server answers 200 to anything and keeps what it was sent.
    let granted = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let granted_address = granted.local_addr().unwrap().to_string();
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let kept = received.clone();
    std::thread::spawn(move || {
        for stream in granted.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            kept.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let extra = format!(
        "grants.network.http = [\"{granted_address}\"]\nconfig = {{ granted = \"{granted_address}\", ungranted = \"{ungranted_address}\" }}"
    );
    let ended = Lab::new().attack("http-smuggle", &extra, "blocked:");
    let text = ended.text();
    for what in ["POST to the ungranted server", "userinfo in front", "Host header naming"] {
        assert!(text.contains(what), "{what} was tried and refused:\n{text}");
    }
    assert!(text.contains("the host refused it (not in grants.network.http)"), "refused as not granted:\n{text}");
    assert!(text.contains("a header the sandbox refuses"), "{text}");
    assert!(ungranted.accept().is_err(), "nothing reached the ungranted server");
    let received = received.lock().unwrap();
    assert!(received.iter().all(|r| !r.contains(&ungranted_address)), "the ungranted host was smuggled: {received:?}");
}

#[test]
fn a_huge_return_value_is_stopped_before_it_is_buffered() {
    // 200 MiB cannot even be built inside a 64 MiB instance.
    Lab::new().attack("huge-return", "config = { mib = 200 }", "memory limit of 64 MiB");
    // 4 MiB can be built, but the host refuses an answer that large.
    Lab::new().attack("huge-return", "config = { mib = 4 }", "limit on answers");
}

#[test]
fn a_log_flood_is_capped_per_call() {
    let mut lab = Lab::new();
    let ended = lab.attack("log-flood", "", "flooded the log");
    let call = ended.history.iter().find(|e| e.message.starts_with("verify log-flood")).unwrap();
    let logs = &call.detail.as_ref().unwrap()["logs"];
    assert_eq!(logs["records"].as_array().unwrap().len(), upshift::runtime::MAX_LOG_RECORDS_PER_CALL);
    assert_eq!(logs["dropped"], 20_000 - upshift::runtime::MAX_LOG_RECORDS_PER_CALL);
    // Each record was 16 KiB: the host keeps at most its per-message limit (and the journal may
    // cut it further to keep the entry's detail within its own bound).
    let kept = logs["records"][0]["message"].as_str().unwrap();
    assert!(kept.starts_with("spam spam"), "{kept:?}");
    assert!(kept.len() <= upshift::runtime::MAX_LOG_MESSAGE_BYTES + '…'.len_utf8(), "not cut: {} bytes", kept.len());
    println!("log-flood: kept {} records, dropped {}", logs["records"].as_array().unwrap().len(), logs["dropped"]);
}

#[test]
fn reading_the_environment_finds_nothing() {
    Lab::new().attack("env-snoop", "", "blocked:");
}

#[test]
fn a_trap_in_the_middle_of_apply_rolls_back() {
    let mut lab = Lab::new();
    let target = lab.plugin("trap-in-apply");
    let verifier = format!("{}\nconfig = {{ value = 0.001, max = 0.01 }}", lab.plugin("threshold"));
    let ended = lab.run(&lab.spec(&verifier, Some(&target))).unwrap();
    let text = ended.text();
    assert_eq!(ended.phase, Phase::RolledBack, "{text}");
    let line = text.lines().find(|l| l.contains("apply failed")).unwrap();
    assert!(line.contains("trap-in-apply.wasm") && line.contains("crashed"), "{line}");
    // What the plugin printed (its panic message) is part of the error.
    assert!(
        line.contains("the plugin printed: ") && line.contains("hostile: trapping in the middle of apply"),
        "{line}"
    );
    assert!(text.contains("rolled back 1 units"), "{text}");
    println!("trap-in-apply: stopped by: {line}");
    lab.assert_next_rollout_runs();
}

#[test]
fn a_component_of_the_wrong_world_is_refused_at_load() {
    let mut lab = Lab::new();
    let spec = lab.spec(&lab.plugin("recorder"), None);
    let err = lab.run(&spec).err().expect("refused");
    assert!(
        err.contains("recorder.wasm") && err.contains("expected a verifier") && err.contains("found a target"),
        "{err}"
    );
    println!("wrong-world: refused: {err}");
    lab.assert_next_rollout_runs();
}

#[test]
fn truncated_and_corrupted_bytes_are_refused_at_load() {
    let mut lab = Lab::new();
    let bytes = std::fs::read(fixture("threshold")).unwrap();
    let mut flipped = bytes.clone();
    for b in flipped.iter_mut().skip(bytes.len() / 3).step_by(97) {
        *b ^= 0xff;
    }
    for (name, content) in [("truncated", &bytes[..bytes.len() / 2]), ("corrupted", &flipped[..])] {
        let file = format!("{name}.wasm");
        std::fs::write(lab.path(&file), content).unwrap();
        let digest = Digest::of(content);
        let spec = lab.spec(&format!("file = \"{file}\"\nsha256 = \"{digest}\""), None);
        let err = lab.run(&spec).err().expect("refused");
        assert!(err.contains(&file) && err.contains("invalid"), "{err}");
        println!("{name}: refused: {err}");
    }
    lab.assert_next_rollout_runs();
}

#[test]
fn a_grant_the_plugin_did_not_declare_is_not_given() {
    let mut lab = Lab::new();
    // PATH exists on any host and is granted, but env-snoop declares no capability.
    let ended = lab.attack("env-snoop", "grants.env = [\"PATH\"]", "blocked:");
    let text = ended.text();
    assert!(text.contains("env-snoop.wasm asks for nothing; the spec grants env [PATH]"), "{text}");
    assert!(text.contains("environment variable PATH is granted but not asked for; not given"), "{text}");
}

#[test]
fn a_tampered_signature_or_file_is_refused_at_load() {
    let mut lab = Lab::new();
    let key = SecretKey::generate().unwrap();
    lab.trust = TrustPolicy {
        keys: TrustedKeys { keys: vec![(key.public(), "lab".into())], source: Some(lab.path("trusted_keys")) },
        allow_unsigned: false,
        dev: false,
    };
    let pinned = lab.plugin("threshold");
    let file = lab.path("threshold.wasm");
    let mut signed = trust::sign(&std::fs::read(&file).unwrap(), &key);
    let good = lab.spec(&format!("{pinned}\nconfig = {{ value = 0.001, max = 0.01 }}"), None);
    let recorder = lab.path("recorder.wasm");
    std::fs::write(
        trust::signature_path(&recorder),
        serde_json::to_string(&trust::sign(&std::fs::read(&recorder).unwrap(), &key)).unwrap(),
    )
    .unwrap();

    // The signature bytes are altered: they no longer verify.
    let mut sig = signed.signature.clone().into_bytes();
    sig[10] = if sig[10] == b'0' { b'1' } else { b'0' };
    signed.signature = String::from_utf8(sig).unwrap();
    std::fs::write(trust::signature_path(&file), serde_json::to_string(&signed).unwrap()).unwrap();
    let err = lab.run(&good).err().expect("refused");
    assert!(err.contains("threshold.wasm") && err.contains("does not verify"), "{err}");
    println!("tampered signature: refused: {err}");

    // The file is altered after signing (and re-pinned in the spec): the signature no longer covers it.
    let honest = trust::sign(&std::fs::read(&file).unwrap(), &key);
    std::fs::write(trust::signature_path(&file), serde_json::to_string(&honest).unwrap()).unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(b"\0");
    std::fs::write(&file, &bytes).unwrap();
    let repinned = good.replace(&honest.sha256, &Digest::of(&bytes).to_hex());
    let err = lab.run(&repinned).err().expect("refused");
    assert!(err.contains("changed after signing"), "{err}");
    println!("tampered file: refused: {err}");

    // Signed honestly, the same plugin runs in the same process.
    std::fs::write(&file, &bytes[..bytes.len() - 1]).unwrap();
    let ended = lab.run(&good).expect("loads");
    assert_eq!(ended.phase, Phase::Succeeded, "{}", ended.text());
}

/// `validate-config` runs with no grants: a verifier granted a writable folder that writes into it
/// from its config check leaves the folder empty, and `upshift validate` changes nothing.
#[test]
fn a_config_check_gets_no_grants_so_validate_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scratch")).unwrap();
    let target = common::fixtures::copy_fixture(dir.path(), "recorder");
    let verifier = common::fixtures::copy_fixture(dir.path(), "write-outside");
    let spec = dir.path().join("rollout.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"scribble\"\nfrom = \"1\"\nto = \"2\"\n\n[target]\nfile = \"recorder.wasm\"\nsha256 = \"{target}\"\n\
             config = {{ units = [\"a\"] }}\n\n[strategy]\nplugin = \"all-at-once\"\n\n[[verifiers]]\n\
             file = \"write-outside.wasm\"\nsha256 = \"{verifier}\"\ngrants.files = [{{ path = \"scratch\", write = true }}]\n"
        ),
    )
    .unwrap();
    let out =
        common::upshift_in(dir.path()).args(["validate", "--allow-unsigned", spec.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}\n{}", common::stdout(&out), common::stderr(&out));
    let written: Vec<_> = std::fs::read_dir(dir.path().join("scratch")).unwrap().collect();
    assert!(written.is_empty(), "validate-config wrote into a granted folder: {written:?}");
    assert!(!dir.path().join("state.db").exists(), "validate created the state store");
}

#[test]
fn a_target_that_writes_while_it_observes_changes_nothing() {
    let mut lab = Lab::new();
    std::fs::create_dir(lab.path("scratch")).unwrap();
    let db = lab.path("shop.db");
    rusqlite::Connection::open(&db).unwrap().execute_batch("CREATE TABLE observed (note TEXT)").unwrap();
    let target = format!(
        "{}\ngrants.files = [{{ path = \"scratch\", write = true }}]\ngrants.sql = [\"shop\"]\n\
         config = {{ units = [\"a\", \"b\"], database = \"shop/shop\" }}",
        lab.plugin("observe-writes")
    );
    let spec = lab.compose(Some(&target), None, None, "[connections.shop]\ndatabases = [\"shop.db\"]");
    let ended = lab.run(&spec).expect("the target loads");
    assert_eq!(ended.phase, Phase::Succeeded, "{}", ended.text());
    // Its operations wrote, as granted; its observations (plan's and every read-back's) did not.
    assert_eq!(std::fs::read_to_string(lab.path("scratch/applied.txt")).unwrap(), "finalize");
    assert!(!lab.path("scratch/observed.txt").exists(), "observe wrote into the granted folder");
    let rows: i64 =
        rusqlite::Connection::open(&db).unwrap().query_row("SELECT COUNT(*) FROM observed", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 0, "observe changed the database");
    // Each observe's refusals are in the audit trail, under that call.
    let logged: Vec<String> = ended
        .history
        .iter()
        .filter_map(|e| e.detail.as_ref())
        .flat_map(|d| d["logs"]["records"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["message"].as_str().map(str::to_string))
        .collect();
    assert!(!logged.iter().any(|m| m.contains("ESCAPED")), "{logged:#?}");
    assert!(logged.iter().any(|m| m.starts_with("observe could not write /scratch/observed.txt")), "{logged:#?}");
    assert!(logged.iter().any(|m| m.starts_with("observe could not insert")), "{logged:#?}");
    println!("observe-writes: {}", logged.iter().find(|m| m.contains("could not insert")).unwrap());
}

/// The host process's open file descriptors.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn hoarding_open_files_is_stopped_by_the_host_resource_limit_and_gives_them_back() {
    let mut lab = Lab::new();
    std::fs::create_dir(lab.path("data")).unwrap();
    std::fs::write(lab.path("data/file.txt"), "one file").unwrap();
    let before = open_fds();
    let ended = lab.attack("hoard-files", "grants.files = [\"data\"]", "host resources at once");
    let text = ended.text();
    assert!(text.contains(&format!("more than {} host resources", upshift::runtime::MAX_HOST_RESOURCES)), "{text}");
    // The trapped instance was dropped with every file it held: the host keeps its descriptors
    // (the lab's next rollout, run by `attack`, has come and gone too).
    // The host opens a few descriptors of its own lazily (memory images of the plugins it keeps
    // loaded, the pool's pagemap, the lease renewal thread's connection); the hoard was hundreds.
    let after = open_fds();
    assert!(after <= before + 32, "{before} open descriptors before, {after} after");
}
