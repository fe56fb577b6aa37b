//! The dashboard end to end: a real `upshift serve` with real quickstart rollouts (one running with
//! bakes of seconds, one rolled back by its checks, one awaiting approval), checked in Debian's
//! Chromium driven by Playwright (`tests/browser/dashboard.mjs`): sign-in, the table and its filter,
//! a page that follows a bake into the next stage without a reload, the failing measurement and the
//! rollback, approval from the page (the journal names the token), a viewer who cannot act, phone
//! width, and no console errors. Screenshots go to `target/dashboard/`. Without a browser, over
//! plain HTTP: what a page of another site or a stale form cannot do.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::serve::{Fleet, Server};
use serde_json::{Value, json};

/// Where the browser test writes its screenshots.
fn screenshots() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| common::root().join("target"));
    target.join("dashboard")
}

fn wait_for(server: &Server, id: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (status, body) = server.get(&format!("/v1/rollouts/{id}"));
        assert_eq!(status, 200, "{body}");
        if ok(&body) {
            return body;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{id} never {what}: {body}\n{}", server.stderr());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The journal of rollout `id` through the API.
fn journal(server: &Server, id: &str) -> Vec<Value> {
    let (status, body) = server.get(&format!("/v1/rollouts/{id}/history?limit=2000"));
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().unwrap().clone()
}

/// Tokens of each role, by name: `ci-admin`, `ops-alice`, `viewer-bob`.
struct Tokens {
    admin: String,
    operator: String,
    viewer: String,
}

/// `n` quickstart folders, a token of each role, and a server (which the admin token closes).
fn setup(n: usize) -> (Fleet, Tokens, Server) {
    let fleet = Fleet::new(n);
    let tokens = Tokens {
        admin: fleet.token("admin", "ci-admin"),
        operator: fleet.token("operator", "ops-alice"),
        viewer: fleet.token("viewer", "viewer-bob"),
    };
    let server = Server::start(&fleet, Some(&tokens.admin));
    (fleet, tokens, server)
}

/// Submits folder `i`'s quickstart as `name`, holding for approval before every stage.
fn submit_held(server: &Server, fleet: &Fleet, admin: &str, i: usize, name: &str) -> String {
    let spec = format!("{}\n[policy]\napprove_stages = [\"*\"]\n", fleet.spec(i, "rollout.toml", name));
    let (status, body) = server.call("POST", &format!("/v1/rollouts?path=r{i}/rollout.toml"), Some(admin), Some(&spec));
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    wait_for(server, &id, "awaited approval", |r| r["state"] == "awaiting-approval");
    id
}

#[test]
fn the_dashboard_in_a_real_browser() {
    let (fleet, Tokens { admin, operator, viewer }, server) = setup(3);
    let broken = server.submit(&fleet, 2, "broken.toml", "checkout-db");
    let approval = submit_held(&server, &fleet, &admin, 3, "billing-db");
    wait_for(&server, &broken, "rolled back", |r| r["state"] == "rolled-back");
    // The running one last (newest first in the table), with bakes long enough to watch.
    let live_spec = fleet
        .spec(1, "rollout.toml", "orders-db")
        .replace("canary_bake_seconds = 2", "canary_bake_seconds = 8")
        .replace("bake_seconds = 1 }", "bake_seconds = 8 }");
    assert!(live_spec.contains("bake_seconds = 8 }"), "{live_spec}");
    let (status, body) = server.call("POST", "/v1/rollouts?path=r1/rollout.toml", Some(&admin), Some(&live_spec));
    assert_eq!(status, 201, "{body}");
    let live = body["id"].as_str().unwrap().to_string();

    let out = screenshots();
    let mut settled = serde_json::Map::new();
    settled.insert(broken.clone(), json!("rolled-back"));
    settled.insert(approval.clone(), json!("awaiting-approval"));
    let input = json!({
        "base": server.base, "operator": operator, "viewer": viewer,
        "live": live, "broken": broken, "approval": approval,
        "settled": settled,
        "failing": "orders-kept.passed",
        "out": out,
    });
    let script = common::root().join("tests/browser/dashboard.mjs");
    let started = Instant::now();
    let run = Command::new("node").arg(&script).env("UPSHIFT_DASHBOARD", input.to_string()).output().unwrap();
    let printed = String::from_utf8_lossy(&run.stdout);
    eprintln!("{printed}browser checks took {:?}", started.elapsed());
    let last: Value = printed.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or(Value::Null);
    assert!(
        run.status.success() && last["ok"] == true,
        "the browser checks failed: {last}\n{}\nserver:\n{}",
        String::from_utf8_lossy(&run.stderr)
            .lines()
            .filter(|l| !l.contains("unexpected operator"))
            .collect::<Vec<_>>()
            .join("\n"),
        server.stderr()
    );
    for check in [
        "sign-in keeps the token",
        "the table lists every rollout",
        "updates live through a bake",
        "failing measurement and the rollback",
        "approve from the page",
        "a viewer cannot act",
        "phone-width",
        "no console errors",
    ] {
        assert!(
            printed.contains(check) || printed.contains(&check.replace("phone-width", "phone width")),
            "check not run: {check}\n{printed}"
        );
    }
    for shot in ["dashboard-list.png", "dashboard-rollout.png", "dashboard-phone.png"] {
        let size = std::fs::metadata(out.join(shot)).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "{shot}: {size} bytes");
    }

    // The approval is journaled with the operator's token name, through the dashboard.
    let entries = journal(&server, &approval);
    let approved: Vec<&Value> = entries.iter().filter(|e| e["event"] == "approve").collect();
    assert_eq!(approved.len(), 1, "{entries:#?}");
    assert_eq!(approved[0]["actor"], "ops-alice (dashboard approve)");
    // The viewer changed nothing anywhere.
    for id in [&live, &broken, &approval] {
        assert!(journal(&server, id).iter().all(|e| !e["actor"].as_str().unwrap_or("").contains("viewer-bob")));
    }
    server.wait_ended(&[live], Duration::from_secs(120));
}

/// An HTTP client that reports redirects rather than following them.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into()
}

/// A request with a session cookie and more headers, over plain HTTP.
fn post_form(server: &Server, path: &str, cookie: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut r = agent()
        .post(&format!("{}{path}", server.base))
        .header("Cookie", &format!("upshift_session={cookie}"))
        .header("Content-Type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let mut response = r.send(body).unwrap();
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
}

fn get_page(server: &Server, path: &str, cookie: Option<&str>) -> (u16, String, Option<String>) {
    let mut r = agent().get(&format!("{}{path}", server.base));
    if let Some(c) = cookie {
        r = r.header("Cookie", &format!("upshift_session={c}"));
    }
    let mut response = r.call().unwrap();
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap(), location)
}

/// The `content` of the page's `<meta name="csrf-token">`.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf-token\" content=\"").expect("a csrf meta") + "name=\"csrf-token\" content=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

#[test]
fn another_sites_page_a_stale_form_and_a_viewer_change_nothing() {
    let (fleet, Tokens { admin, operator, viewer }, server) = setup(1);
    let id = submit_held(&server, &fleet, &admin, 1, "held");
    let before = journal(&server, &id).len();

    // Without a session: pages send the visitor to sign in; fragments and actions are refused.
    let (status, _, location) = get_page(&server, "/", None);
    assert_eq!((status, location.as_deref()), (303, Some("/login")));
    let (status, _, _) = get_page(&server, &format!("/ui/rollouts/{id}/live"), None);
    assert_eq!(status, 401);
    let (status, _) = post_form(&server, &format!("/ui/rollouts/{id}/abort"), "upshift_nope", &[], "js=1");
    assert_eq!(status, 401);
    // A form without the page's script is sent back to sign in.
    let (status, _) = post_form(&server, &format!("/ui/rollouts/{id}/abort"), "upshift_nope", &[], "");
    assert_eq!(status, 303);

    // Signing in sets the cookie; a wrong token is named.
    let (status, text) = post_form(&server, "/login", "", &[], "token=upshift_0000");
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("unknown token"), "{text}");
    let mut response = agent()
        .post(&format!("{}/login", server.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .send(format!("token={operator}"))
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    let cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.starts_with(&format!("upshift_session={operator};")), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let _ = response.body_mut().read_to_string();

    let (status, page, _) = get_page(&server, &format!("/rollouts/{id}"), Some(&operator));
    assert_eq!(status, 200);
    let csrf = csrf_of(&page);
    let abort = format!("/ui/rollouts/{id}/abort");
    // No form token, another session's token, a page of another site, a viewer: each refused.
    let (status, text) = post_form(&server, &abort, &operator, &[], "js=1");
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("reload the page"), "{text}");
    let (_, viewer_page, _) = get_page(&server, &format!("/rollouts/{id}"), Some(&viewer));
    let (status, _) = post_form(&server, &abort, &operator, &[], &format!("js=1&csrf={}", csrf_of(&viewer_page)));
    assert_eq!(status, 403);
    let evil = [("Origin", "http://evil.example")];
    let (status, text) = post_form(&server, &abort, &operator, &evil, &format!("js=1&csrf={csrf}"));
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("another site"), "{text}");
    let (status, _) = post_form(&server, &abort, &viewer, &[], &format!("js=1&csrf={}", csrf_of(&viewer_page)));
    assert_eq!(status, 403);
    // The API refuses another site's page too (a browser sends its token-less request on an open
    // loopback server; here the token is the attacker's guess).
    let mut r = server
        .agent
        .post(&format!("{}/v1/rollouts/{id}/abort", server.base))
        .header("Authorization", &format!("Bearer {admin}"))
        .header("Origin", "http://evil.example")
        .send_empty()
        .unwrap();
    assert_eq!(r.status().as_u16(), 403, "{}", r.body_mut().read_to_string().unwrap());
    assert_eq!(journal(&server, &id).len(), before, "a refusal changes nothing");
    assert_eq!(wait_for(&server, &id, "held", |_| true)["state"], "awaiting-approval");

    // The right session, form token and origin: the pause is taken, with its reason and actor.
    let same = [("Origin", server.base.as_str())];
    let (status, text) = post_form(
        &server,
        &format!("/ui/rollouts/{id}/pause"),
        &operator,
        &same,
        &format!("js=1&csrf={csrf}&reason=change+freeze"),
    );
    assert_eq!(status, 204, "{text}");
    let entries = journal(&server, &id);
    let pause = entries.iter().find(|e| e["event"] == "pause").expect("a pause entry");
    assert_eq!(pause["actor"], "ops-alice (dashboard pause)");
    assert!(pause["message"].as_str().unwrap().contains("change freeze"), "{pause}");
    // An unknown action names the four.
    let (status, text) =
        post_form(&server, &format!("/ui/rollouts/{id}/explode"), &operator, &[], &format!("js=1&csrf={csrf}"));
    assert_eq!(status, 404);
    assert!(text.contains("approve, pause, resume or abort"), "{text}");

    // Plugin text reaches the page escaped: the page has no markup the rollout's data did not
    // come with, and every response carries the strict content policy.
    let mut response = server
        .agent
        .get(&format!("{}/rollouts/{id}", server.base))
        .header("Cookie", &format!("upshift_session={operator}"))
        .call()
        .unwrap();
    let csp = response.headers().get("content-security-policy").unwrap().to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = response.body_mut().read_to_string().unwrap();
    assert!(!html.contains("<script>") && !html.contains("style="), "no inline script or style");
}

/// Opens `GET /ui/events` as `cookie`'s session on a raw connection; the status and, for a refusal,
/// the body's first line.
fn open_stream(server: &Server, cookie: &str) -> (u16, String, std::net::TcpStream) {
    use std::io::{BufRead, BufReader, Read, Write};
    let address = server.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET /ui/events HTTP/1.1\r\nHost: {address}\r\nCookie: upshift_session={cookie}\r\n\r\n").unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = String::new();
    if status != 200 {
        // Headers, then the one-line message (`Content-Length` bytes).
        let mut length = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
        }
        let mut bytes = vec![0; length];
        reader.read_exact(&mut bytes).unwrap();
        body = String::from_utf8(bytes).unwrap();
    }
    (status, body, stream)
}

/// Every open dashboard page holds a live stream; past `MAX_STREAMS` a viewer's credential cannot
/// open more (503, naming the limit and what to do), and a page that closes gives its place back.
#[test]
fn live_streams_past_the_limit_are_refused_until_a_page_closes() {
    let (_fleet, Tokens { viewer, .. }, server) = setup(1);
    let max = upshift::serve::dashboard::events::MAX_STREAMS;
    let mut open: Vec<std::net::TcpStream> = (0..max)
        .map(|i| {
            let (status, body, stream) = open_stream(&server, &viewer);
            assert_eq!(status, 200, "stream {i}: {body}");
            stream
        })
        .collect();
    let (status, body, _) = open_stream(&server, &viewer);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(&format!("{max} live dashboards are open")) && body.contains("close one"), "{body}");
    println!("stream {}: {status} {body}", max + 1);

    // A page goes away: its place comes back once the server sees the connection closed (at the
    // latest at the stream's next keep-alive).
    open.pop().unwrap().shutdown(std::net::Shutdown::Both).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body, stream) = open_stream(&server, &viewer);
        if status == 200 {
            open.push(stream);
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(std::time::Instant::now() < deadline, "the closed page's place never came back");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(open);
}
