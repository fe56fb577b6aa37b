//! The cache against damaged, foreign, incompatible and planted entries: each is a miss, never a
//! crash, and a good entry loads.

use std::os::unix::fs::PermissionsExt;

use super::*;

fn engine() -> Engine {
    super::super::new_engine().unwrap()
}

/// A first-party plugin's bytes, its digest and its compilation.
fn plugin(engine: &Engine) -> (Digest, Component) {
    let bytes = crate::builtin::PLUGINS.iter().find(|p| p.name == "all-at-once").unwrap().bytes;
    (Digest::of(bytes), Component::new(engine, bytes).unwrap())
}

fn entry(cache: &CompiledCache, engine: &Engine, digest: &Digest) -> PathBuf {
    cache.path(digest, &compatibility_key(engine))
}

#[test]
fn an_entry_stored_loads_and_is_listed_until_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CompiledCache::open(dir.path().join("c")).unwrap();
    let mode = fs::metadata(cache.dir()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "the folder is owner-only");
    let engine = engine();
    let (digest, component) = plugin(&engine);
    assert_eq!(cache.load(&engine, &digest).err(), Some(Miss::Absent));
    let path = cache.store(&engine, &digest, &component).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600, "entries are owner-only");
    let loaded = cache.load(&engine, &digest).unwrap();
    assert!(loaded.component_type().exports(&engine).count() > 0);
    let listed = cache.list(&engine).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].source.as_str(), listed[0].current), (digest.to_hex().as_str(), true));
    assert_eq!(cache.clear().unwrap(), 1);
    assert!(cache.list(&engine).unwrap().is_empty());
}

#[test]
fn truncated_corrupted_and_foreign_entries_are_misses() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CompiledCache::open(dir.path()).unwrap();
    let engine = engine();
    let (digest, component) = plugin(&engine);
    let path = cache.store(&engine, &digest, &component).unwrap();
    let good = fs::read(&path).unwrap();
    let damaged = |bytes: &[u8]| {
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        match cache.load(&engine, &digest) {
            Err(miss) => miss,
            Ok(_) => panic!("a damaged entry loaded"),
        }
    };
    for cut in [0, 10, TRAILER, good.len() / 2, good.len() - 1] {
        assert!(matches!(damaged(&good[..cut]), Miss::Damaged(_)), "truncated at {cut}");
    }
    let mut flipped = good.clone();
    let mid = (good.len() - TRAILER) / 2;
    let end = good.len() - TRAILER;
    flipped[mid] ^= 0x40;
    assert_eq!(damaged(&flipped), Miss::Damaged("its compiled code does not match its checksum".into()));
    let mut other = good.clone();
    other[end + 8] ^= 1;
    assert_eq!(damaged(&other), Miss::Damaged("compiled from another component".into()));
    let mut magic = good.clone();
    magic[end] = b'X';
    assert!(matches!(damaged(&magic), Miss::Damaged(_)));
    assert!(matches!(damaged(&[0u8; 4096]), Miss::Damaged(_)));
    // Another build's key in the trailer.
    let mut key = good.clone();
    key[end + 40] ^= 1;
    assert!(matches!(damaged(&key), Miss::Incompatible(_)));
    // Back to the good entry: it loads.
    fs::write(&path, &good).unwrap();
    assert!(cache.load(&engine, &digest).is_ok());
}

#[test]
fn code_another_engine_compiled_is_refused_by_wasmtime() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CompiledCache::open(dir.path()).unwrap();
    let engine = engine();
    let (digest, _) = plugin(&engine);
    // A whole, well-formed entry under this engine's key, whose code another configuration compiled.
    let mut config = super::super::base_config();
    config.epoch_interruption(false);
    let other = Engine::new(&config).unwrap();
    let bytes = crate::builtin::PLUGINS.iter().find(|p| p.name == "all-at-once").unwrap().bytes;
    let foreign = Component::new(&other, bytes).unwrap().serialize().unwrap();
    let key = compatibility_key(&engine);
    let mut file = foreign.to_vec();
    file.extend_from_slice(&trailer(&digest, &key, &foreign));
    let path = entry(&cache, &engine, &digest);
    fs::write(&path, &file).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(cache.load(&engine, &digest), Err(Miss::Incompatible(_))));
}

#[test]
fn an_entry_others_may_write_or_a_link_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let cache = CompiledCache::open(dir.path().join("c")).unwrap();
    let engine = engine();
    let (digest, component) = plugin(&engine);
    let path = cache.store(&engine, &digest, &component).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o622)).unwrap();
    assert!(matches!(cache.load(&engine, &digest), Err(Miss::Untrusted(_))));
    // A link to a good entry elsewhere.
    let elsewhere = dir.path().join("planted.cwasm");
    fs::rename(&path, &elsewhere).unwrap();
    fs::set_permissions(&elsewhere, fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    assert!(matches!(cache.load(&engine, &digest), Err(Miss::Untrusted(_))));
    // A folder others may write is made owner-only when opened.
    let open = dir.path().join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    CompiledCache::open(&open).unwrap();
    assert_eq!(fs::metadata(&open).unwrap().permissions().mode() & 0o777, 0o700);
}
