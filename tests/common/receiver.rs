//! A tiny HTTP/1.1 receiver on 127.0.0.1 for the webhook tests: records every request and answers
//! with the status a test chooses.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub answered: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(&name.to_ascii_lowercase()).map_or("", String::as_str)
    }
    pub fn rollout(&self) -> String {
        self.json()["rollout"]["id"].as_str().unwrap().to_string()
    }
    pub fn event(&self) -> String {
        self.json()["event"].as_str().unwrap().to_string()
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 that records every request and answers with the status
/// `answer` gives for it (and the number of requests before it).
pub struct Receiver {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub fn start(answer: impl Fn(&Received, usize) -> u16 + Send + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let kept = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let Some(mut r) = read_request(&stream) else { continue };
                let n = kept.lock().unwrap().len();
                r.answered = answer(&r, n);
                let mut stream = stream;
                let _ = write!(stream, "HTTP/1.1 {} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", r.answered);
                kept.lock().unwrap().push(r);
            }
        });
        Receiver { addr, log }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }

    /// The requests answered 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.requests().into_iter().filter(|r| (200..300).contains(&r.answered)).collect()
    }
}

fn read_request(stream: &TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = BTreeMap::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Received { headers, body: String::from_utf8(body).ok()?, answered: 0 })
}
