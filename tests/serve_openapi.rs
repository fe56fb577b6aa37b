//! The OpenAPI document `upshift serve` serves at `GET /v1/openapi.json` (host/src/serve/openapi.json),
//! checked against the real server on a free port: every route the server has (read from the
//! `.route(...)` calls of its source) is documented with its methods and every documented path
//! answers its documented methods (not the 404 of a path no route answers, not 405) and only those;
//! every answer, on the way, has a documented status and content type, and its JSON only documented
//! properties and every required one: a submission, list, detail, history, controls and errors
//! (404, 409 with `id`, 422 with `problems`, 400, 401, 403, 413); and each operation's `x-upshift-role`
//! is the role the server asks for. A failure here means the server and the document disagree:
//! change host/src/serve/openapi.json (or the server) so they say the same.
//!
//! The schema checker is small and knows only the JSON Schema it needs (see [`SchemaCheck`]); it
//! refuses any other keyword, so the document cannot say something this test silently ignores.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, stdout};
use serde_json::{Value, json};

/// Methods probed on every documented path.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const ROLES: [&str; 3] = ["viewer", "operator", "admin"];

/// A spec root holding one quickstart folder (2 shards at v1), a state store, and serve.toml.
struct Fleet {
    dir: tempfile::TempDir,
}

impl Fleet {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("root/qs");
        common::copy_example("quickstart", &folder);
        for spec in ["provision.toml", "rollout.toml"] {
            let text = std::fs::read_to_string(folder.join(spec)).unwrap();
            std::fs::write(folder.join(spec), text.replace("count = 8", "count = 2")).unwrap();
        }
        let out = common::upshift_in(&folder).args(["run", "--no-wait", "provision.toml"]).output().unwrap();
        assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
        let root = dir.path().join("root").display().to_string();
        std::fs::write(dir.path().join("serve.toml"), format!("spec_root = {root:?}\n")).unwrap();
        Fleet { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The quickstart's rollout spec named `name`.
    fn spec(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.path("root/qs/rollout.toml")).unwrap();
        text.replace("name = \"quickstart\"", &format!("name = \"{name}\""))
    }

    fn token(&self, role: &str) -> String {
        let out = common::upshift()
            .arg("--state")
            .arg(self.path("state.db"))
            .args(["token", "create", "--role", role, "--name", &format!("openapi-{role}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out).trim().to_string()
    }
}

/// A running `upshift serve` on 127.0.0.1 and a free port.
struct Server {
    child: Child,
    base: String,
    agent: ureq::Agent,
}

/// What the server answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

impl Server {
    fn start(fleet: &Fleet) -> Server {
        let mut child = common::upshift()
            .arg("--state")
            .arg(fleet.path("state.db"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(fleet.path("serve.toml"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("serve says where it listens").unwrap();
        let addr = first.split("http://").nth(1).and_then(|s| s.split(' ').next()).expect(&first).to_string();
        std::thread::spawn(move || lines.for_each(drop));
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Server { child, base: format!("http://{addr}"), agent }
    }

    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> Answer {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut request = http::Request::builder().method(method).uri(&url);
        if let Some(a) = &auth {
            request = request.header("Authorization", a);
        }
        let response = match body {
            Some(b) => self.agent.run(request.body(b.to_string()).unwrap()),
            None if method == "GET" => self.agent.run(request.body(()).unwrap()),
            None => self.agent.run(request.body(String::new()).unwrap()),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let content_type = response
            .headers()
            .get("content-type")
            .map_or(String::new(), |v| v.to_str().unwrap_or_default().to_string());
        let text = response.body_mut().read_to_string().unwrap();
        Answer { status: response.status().as_u16(), content_type, text }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The document, and checks of answers against it.
struct Doc(Value);

impl Doc {
    /// `v`, its `$ref` (to `#/...`) followed as often as it has one.
    fn resolve<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        while let Some(r) = v.get("$ref").and_then(Value::as_str) {
            let pointer = r.strip_prefix('#').unwrap_or_else(|| panic!("only local $refs: {r}"));
            v = self.0.pointer(pointer).unwrap_or_else(|| panic!("$ref {r} points nowhere"));
        }
        v
    }

    fn paths(&self) -> Vec<String> {
        self.0["paths"].as_object().expect("paths").keys().cloned().collect()
    }

    /// The operation `method` of `path`, if the document has it.
    fn operation(&self, path: &str, method: &str) -> Option<&Value> {
        self.0["paths"][path].get(method.to_ascii_lowercase())
    }

    /// Asserts `answer` is documented for `method path` (a documented path): its status, its
    /// content type, and for JSON its body against the schema.
    fn assert_documents(&self, method: &str, path: &str, answer: &Answer) -> Value {
        let op = self.operation(path, method).unwrap_or_else(|| panic!("{method} {path} is not documented"));
        let response = op["responses"].get(answer.status.to_string()).map(|r| self.resolve(r)).unwrap_or_else(|| {
            panic!("{method} {path} answered {} but the document lists no such status: {}", answer.status, answer.text)
        });
        let essence = |t: &str| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let content = response["content"].as_object().map(|c| {
            c.iter().find(|(media, _)| essence(media) == essence(&answer.content_type)).unwrap_or_else(|| {
                panic!(
                    "{method} {path} {} answered {:?}; the document says {:?}",
                    answer.status,
                    answer.content_type,
                    c.keys().collect::<Vec<_>>()
                )
            })
        });
        let Some((_, media)) = content else {
            assert!(answer.text.is_empty(), "{method} {path} {}: a body where none is documented", answer.status);
            return Value::Null;
        };
        let value = match essence(&answer.content_type).as_str() {
            "application/json" => answer.json(),
            _ => Value::String(answer.text.clone()),
        };
        let mut errors = vec![];
        SchemaCheck { doc: self }.check(&media["schema"], &value, "", &mut errors);
        assert!(
            errors.is_empty(),
            "{method} {path} {} does not match the document (host/src/serve/openapi.json):\n  {}\n{value:#}",
            answer.status,
            errors.join("\n  ")
        );
        value
    }
}

/// A JSON Schema checker for the subset the document uses: `type` (one or a list), `enum`,
/// `minimum`, `properties` with `required` and `additionalProperties` (which every object schema
/// with properties must state; false means any other property is an error), `items`, `oneOf`,
/// `$ref`; `description`, `format`, `default` and `title` are notes. Any other keyword is refused.
struct SchemaCheck<'a> {
    doc: &'a Doc,
}

const KEYWORDS: [&str; 8] =
    ["type", "enum", "minimum", "properties", "required", "additionalProperties", "items", "oneOf"];
const NOTES: [&str; 4] = ["description", "format", "default", "title"];

impl SchemaCheck<'_> {
    /// Refuses keywords outside the subset, `$ref`s to nowhere and objects silent about other
    /// properties, everywhere in `schema`.
    fn walk(&self, schema: &Value, at: &str) {
        let map = schema.as_object().unwrap_or_else(|| panic!("{at}: a schema must be an object"));
        if map.contains_key("$ref") {
            self.doc.resolve(schema);
            assert!(map.keys().all(|k| k == "$ref" || NOTES.contains(&k.as_str())), "{at}: $ref with keywords");
            return;
        }
        for key in map.keys() {
            assert!(
                KEYWORDS.contains(&key.as_str()) || NOTES.contains(&key.as_str()),
                "{at}: the schema keyword {key:?} is not one this test checks; use another or teach SchemaCheck it"
            );
        }
        if map.contains_key("properties") {
            assert!(map.contains_key("additionalProperties"), "{at}: say additionalProperties");
        }
        for (name, s) in map.get("properties").and_then(Value::as_object).into_iter().flatten() {
            self.walk(s, &format!("{at}/properties/{name}"));
        }
        for s in map.get("oneOf").and_then(Value::as_array).into_iter().flatten() {
            self.walk(s, &format!("{at}/oneOf"));
        }
        for key in ["items", "additionalProperties"] {
            if let Some(s) = map.get(key).filter(|s| s.is_object()) {
                self.walk(s, &format!("{at}/{key}"));
            }
        }
    }

    /// Appends to `errors` every way `value` (at JSON pointer `at`) breaks `schema`.
    fn check(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.doc.resolve(schema);
        let here = if at.is_empty() { "the body" } else { at };
        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                list => list.as_array().expect("type: a name or a list").iter().filter_map(Value::as_str).collect(),
            };
            let is = |t: &str| match t {
                "null" => value.is_null(),
                "boolean" => value.is_boolean(),
                "object" => value.is_object(),
                "array" => value.is_array(),
                "number" => value.is_number(),
                "integer" => value.is_i64() || value.is_u64(),
                "string" => value.is_string(),
                other => panic!("unknown type {other}"),
            };
            if !types.iter().any(|t| is(t)) {
                errors.push(format!("{here}: {value} is not of type {types:?}"));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!("{here}: {value} is not one of {}", Value::Array(allowed.clone())));
        }
        if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), value.as_f64())
            && n < min
        {
            errors.push(format!("{here}: {n} is below the minimum {min}"));
        }
        if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
            let results: Vec<Vec<String>> = branches
                .iter()
                .map(|b| {
                    let mut e = vec![];
                    self.check(b, value, at, &mut e);
                    e
                })
                .collect();
            let matching = results.iter().filter(|e| e.is_empty()).count();
            // None matches: the errors against the nearest schema (the fewest) say what differs.
            match results.iter().enumerate().min_by_key(|(_, e)| e.len()) {
                _ if matching > 1 => errors.push(format!("{here}: matches {matching} of the oneOf's schemas, not one")),
                Some((i, nearest)) if matching == 0 => {
                    let name = branches[i].get("$ref").and_then(Value::as_str).unwrap_or("an inline schema");
                    errors.push(format!("{here}: matches none of the oneOf's schemas; against the nearest, {name}:"));
                    errors.extend(nearest.iter().cloned());
                }
                _ => {}
            }
        }
        // An object schema speaks of properties; a schema of only `oneOf` leaves them to its branches.
        let speaks = ["properties", "required", "additionalProperties"].iter().any(|k| schema.get(k).is_some());
        if let Some(object) = value.as_object().filter(|_| speaks) {
            let properties = schema.get("properties").and_then(Value::as_object);
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                let name = name.as_str().expect("required names");
                if !object.contains_key(name) {
                    errors.push(format!("{at}/{name}: required by the document, missing from the answer"));
                }
            }
            for (name, v) in object {
                let path = format!("{at}/{name}");
                match (properties.and_then(|p| p.get(name)), schema.get("additionalProperties")) {
                    (Some(s), _) => self.check(s, v, &path, errors),
                    (None, Some(Value::Bool(true))) => {}
                    (None, Some(s)) if s.is_object() => self.check(s, v, &path, errors),
                    (None, _) => errors.push(format!("{path}: in the answer, not in the document")),
                }
            }
        }
        if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
            for (i, v) in array.iter().enumerate() {
                self.check(items, v, &format!("{at}/{i}"), errors);
            }
        }
    }
}

/// Every `.route("PATH", METHODS)` in the server's source (host/src/serve/, host/src/cli/): the
/// path and the methods the method router at the call's top level names (`get(...).post(...)`).
fn source_routes() -> Vec<(String, BTreeSet<String>)> {
    let mut files = vec![];
    for dir in ["host/src/serve", "host/src/cli"] {
        collect_rs(&common::root().join(dir), &mut files);
    }
    let mut routes = vec![];
    // The dashboard's routes answer HTML to a browser, not the API's JSON (README, "The dashboard").
    let dashboard = common::root().join("host/src/serve/dashboard");
    for file in files.into_iter().filter(|f| !f.starts_with(&dashboard)) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices(".route(") {
            let call = &text[at + ".route(".len()..];
            let path = call
                .trim_start()
                .strip_prefix('"')
                .and_then(|s| s.split('"').next())
                .unwrap_or_else(|| panic!("{}: a .route( whose path is not a string literal", file.display()));
            let (mut depth, mut word, mut methods) = (1, String::new(), BTreeSet::new());
            for c in call.chars() {
                match c {
                    '(' | '{' | '[' => {
                        if depth == 1 && ["get", "post", "put", "patch", "delete"].contains(&word.as_str()) {
                            methods.insert(word.to_ascii_uppercase());
                        }
                        depth += 1;
                    }
                    ')' | '}' | ']' => depth -= 1,
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if c.is_ascii_alphanumeric() || c == '_' {
                    word.push(c);
                } else {
                    word.clear();
                }
            }
            assert!(!methods.is_empty(), "{}: .route({path:?}) names no method", file.display());
            routes.push((path.to_string(), methods));
        }
    }
    routes
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether the documented `path` is one the route `template` answers (a `{param}` segment of the
/// route takes any segment).
fn route_covers(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t == p || t.starts_with('{'))
}

/// The least role an operation needs, or `None` when it is documented as needing no token.
fn role_of(doc: &Doc, path: &str, method: &str) -> Option<usize> {
    let op = doc.operation(path, method).unwrap();
    let open = op.get("security").is_some_and(|s| s.as_array().is_some_and(Vec::is_empty));
    let role = op.get("x-upshift-role").and_then(Value::as_str);
    assert_eq!(open, role.is_none(), "{method} {path}: security [] exactly when it has no x-upshift-role");
    role.map(|r| ROLES.iter().position(|x| *x == r).unwrap_or_else(|| panic!("{method} {path}: role {r}")))
}

#[test]
fn the_openapi_document_describes_every_route_and_what_the_server_answers() {
    let fleet = Fleet::new();
    let tokens: Vec<String> = ROLES.iter().map(|r| fleet.token(r)).collect();
    let (viewer, operator, admin) = (Some(tokens[0].as_str()), Some(tokens[1].as_str()), Some(tokens[2].as_str()));
    let server = Server::start(&fleet);

    // The document, without a token.
    let answer = server.call("GET", "/v1/openapi.json", None, None);
    assert_eq!((answer.status, answer.content_type.as_str()), (200, "application/json"), "{}", answer.text);
    let doc = Doc(answer.json());
    assert_eq!(doc.0["openapi"], "3.1.0");
    assert_eq!(doc.0["info"]["version"], env!("CARGO_PKG_VERSION"), "the document's version is the crate's");
    let checker = SchemaCheck { doc: &doc };
    for (name, schema) in doc.0["components"]["schemas"].as_object().unwrap() {
        checker.walk(schema, &format!("#/components/schemas/{name}"));
    }
    let mut operations = vec![];
    for path in doc.paths() {
        for method in METHODS {
            let Some(op) = doc.operation(&path, method) else { continue };
            operations.push((path.clone(), method));
            for p in op["parameters"].as_array().into_iter().flatten() {
                checker.walk(&doc.resolve(p)["schema"], &format!("{method} {path} parameter"));
            }
            for response in op["responses"].as_object().expect("responses").values() {
                for media in doc.resolve(response)["content"].as_object().into_iter().flatten().map(|m| m.1) {
                    checker.walk(&media["schema"], &format!("{method} {path} response"));
                }
            }
        }
    }
    assert_eq!(server.call("GET", "/v1/openapi.json", admin, None).text, answer.text, "the same with a token");

    // (a) The routes in the source and the document's paths: each covers the other, method by method.
    let routes = source_routes();
    assert!(routes.iter().any(|(p, _)| p == "/v1/rollouts/{id}"), "the route parser found the API: {routes:?}");
    for (template, methods) in &routes {
        for method in methods {
            assert!(
                operations.iter().any(|(p, m)| m == method && route_covers(template, p)),
                "the server answers {method} {template}; host/src/serve/openapi.json does not document it"
            );
        }
    }
    for (path, method) in &operations {
        assert!(
            routes.iter().any(|(t, ms)| ms.contains(*method) && route_covers(t, path)),
            "{method} {path} is documented, but no route of the server's source answers it"
        );
    }

    // (b) A rollout through its life, and errors, each answer checked against the document.
    // The quickstart holding for approval before each stage: every phase it passes is checked.
    let spec = format!("{}\n[policy]\napprove_stages = [\"*\"]\n", fleet.spec("openapi"));
    let submitted = server.call("POST", "/v1/rollouts?path=qs/rollout.toml", admin, Some(&spec));
    assert_eq!(submitted.status, 201, "{}", submitted.text);
    let id = doc.assert_documents("POST", "/v1/rollouts", &submitted)["id"].as_str().unwrap().to_string();
    // Polls the rollout (each answer checked) until `until` holds; returns that answer.
    let wait = |until: &dyn Fn(&Value) -> bool| {
        let start = Instant::now();
        loop {
            let answer = server.call("GET", &format!("/v1/rollouts/{id}"), viewer, None);
            assert_eq!(answer.status, 200, "{}", answer.text);
            let shown = doc.assert_documents("GET", "/v1/rollouts/{id}", &answer);
            assert!(shown["stage"]["index"].is_u64(), "the full detail, not the unreadable record's: {shown}");
            if until(&shown) {
                return shown;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "{id} never got there: {shown}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    // A control that takes effect: 200 with the rollout, checked.
    let control = |action: &str, body: Option<&str>| {
        let answer = server.call("POST", &format!("/v1/rollouts/{id}/{action}"), operator, body);
        assert_eq!(answer.status, 200, "{action}: {}", answer.text);
        doc.assert_documents("POST", &format!("/v1/rollouts/{{id}}/{action}"), &answer)
    };
    wait(&|r| r["state"] == "awaiting-approval");
    assert_eq!(control("pause", Some(r#"{"reason": "openapi"}"#))["state"], "paused");
    for query in ["", "?limit=1", "?state=paused&name=openapi"] {
        let list = server.call("GET", &format!("/v1/rollouts{query}"), viewer, None);
        assert_eq!(list.status, 200, "{}", list.text);
        let page = doc.assert_documents("GET", "/v1/rollouts", &list);
        assert!(!page["rollouts"].as_array().unwrap().is_empty(), "{query}: {page}");
    }
    for query in ["", "?limit=1"] {
        let history = server.call("GET", &format!("/v1/rollouts/{id}/history{query}"), viewer, None);
        assert_eq!(history.status, 200, "{}", history.text);
        let page = doc.assert_documents("GET", "/v1/rollouts/{id}/history", &history);
        assert!(page["entries"][0]["detail"].is_object(), "{page}");
    }
    // Errors: each a status the document lists for the route, with the fields it says.
    let again = server.call("POST", "/v1/rollouts?path=qs/rollout.toml", admin, Some(&fleet.spec("openapi")));
    let conflict = doc.assert_documents("POST", "/v1/rollouts", &again);
    assert_eq!((again.status, &conflict["code"], &conflict["id"]), (409, &json!("active"), &json!(id)));
    let ungranted = fleet.spec("openapi-2").replacen(
        "grants.sql = [\"shards\"]\nconfig = { connection = \"shards\", checks",
        "config = { connection = \"shards\", checks",
        1,
    );
    assert_ne!(ungranted, fleet.spec("openapi-2"), "the verifier's grant was removed");
    let refused = server.call("POST", "/v1/rollouts?path=qs/rollout.toml", admin, Some(&ungranted));
    let refusal = doc.assert_documents("POST", "/v1/rollouts", &refused);
    assert_eq!((refused.status, &refusal["code"]), (422, &json!("preflight")), "{refusal}");
    assert!(!refusal["problems"].as_array().unwrap().is_empty(), "{refusal}");
    let huge = format!("# {}\n", "x".repeat(300 << 10));
    // (method, path, token, body, the documented path, the status expected)
    let errors = [
        ("GET", "/v1/rollouts/none-1".into(), viewer, None, "/v1/rollouts/{id}", 404),
        ("GET", "/v1/rollouts/none-1/history".into(), viewer, None, "/v1/rollouts/{id}/history", 404),
        ("POST", format!("/v1/rollouts/{id}/approve"), operator, None, "/v1/rollouts/{id}/approve", 409),
        ("POST", format!("/v1/rollouts/{id}/abort"), operator, Some(r#"{"why": 1}"#), "/v1/rollouts/{id}/abort", 400),
        ("POST", "/v1/rollouts?path=qs/x.toml".into(), admin, Some("name = "), "/v1/rollouts", 400),
        ("POST", "/v1/rollouts?path=qs/x.toml".into(), admin, Some(&huge), "/v1/rollouts", 413),
        ("POST", format!("/v1/rollouts/{id}/pause"), operator, Some(&huge), "/v1/rollouts/{id}/pause", 413),
        ("GET", "/v1/rollouts?limit=many".into(), viewer, None, "/v1/rollouts", 400),
        ("GET", "/v1/rollouts".into(), None, None, "/v1/rollouts", 401),
        ("POST", format!("/v1/rollouts/{id}/pause"), viewer, None, "/v1/rollouts/{id}/pause", 403),
    ];
    for (method, path, token, body, documented, status) in errors {
        let answer = server.call(method, &path, token, body);
        assert_eq!(answer.status, status, "{method} {path}: {}", answer.text);
        doc.assert_documents(method, documented, &answer);
    }
    assert_eq!(control("resume", None)["state"], "awaiting-approval");
    control("approve", None);
    // Through the canary's apply, bake and checks, to the approval before the next stage.
    wait(&|r| r["state"] == "awaiting-approval" && r["stage"]["index"] == 1);
    control("abort", Some(r#"{"reason": "openapi"}"#));
    wait(&|r| ["rolled-back", "failed"].contains(&r["state"].as_str().unwrap()));
    let resume = server.call("POST", &format!("/v1/rollouts/{id}/resume"), operator, None);
    assert_eq!(
        (resume.status, doc.assert_documents("POST", "/v1/rollouts/{id}/resume", &resume)["code"].as_str()),
        (409, Some("ended"))
    );

    // (a) Every documented path answers its documented methods (with the admin token,
    // on the ended rollout) and 405 to the others; never the 404 of a path no route answers.
    let fallback = server.call("GET", "/no/such/route", admin, None);
    assert_eq!(fallback.status, 404);
    for path in doc.paths() {
        let concrete = path.replace("{id}", &id);
        assert!(!concrete.contains('{'), "a path parameter this test cannot fill: {path}");
        for method in METHODS {
            let body = (method == "POST" && path == "/v1/rollouts").then_some("name = ");
            let answer = server.call(method, &concrete, admin, body);
            if doc.operation(&path, method).is_none() {
                assert_eq!(answer.status, 405, "{method} {path} is not documented but answered: {}", answer.text);
                continue;
            }
            assert!(answer.status != 405 && answer.text != fallback.text, "{method} {path}: {answer:?}");
            doc.assert_documents(method, &path, &answer);
        }
    }

    // Each operation's x-upshift-role: no token is 401, the role below it 403; none needed, none asked.
    for (path, method) in &operations {
        let concrete = path.replace("{id}", &id);
        let body = (*method == "POST" && path == "/v1/rollouts").then_some("name = ");
        let anonymous = server.call(method, &concrete, None, body);
        doc.assert_documents(method, path, &anonymous);
        match role_of(&doc, path, method) {
            None => {
                assert!(![401, 403].contains(&anonymous.status), "{method} {path} asked for a token: {anonymous:?}")
            }
            Some(role) => {
                assert_eq!(anonymous.status, 401, "{method} {path} without a token: {}", anonymous.text);
                if role > 0 {
                    let below = server.call(method, &concrete, Some(&tokens[role - 1]), body);
                    assert_eq!(below.status, 403, "{method} {path} as {}: {}", ROLES[role - 1], below.text);
                    doc.assert_documents(method, path, &below);
                }
            }
        }
    }
}
