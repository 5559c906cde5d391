//! The contract manager against the request and response examples of
//! `fixtures/hinemos-7/`, replayed in order on one fresh manager over HTTP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use serde::Deserialize;
use serde_json::Value;

use super::*;

#[derive(Debug, Deserialize)]
struct Exchange {
    about: String,
    request: ExampleRequest,
    response: ExampleResponse,
}

#[derive(Debug, Deserialize)]
struct ExampleRequest {
    method: String,
    path: String,
    auth: bool,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    body: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ExampleResponse {
    status: u16,
    body: Value,
}

/// The examples, in file name order.
fn exchanges() -> Vec<(String, Exchange)> {
    let dir = format!("{}/../fixtures/hinemos-7", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
            let exchange = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, exchange)
        })
        .collect()
}

/// `expected` with `"*"` matching any value; objects must have the same keys.
fn matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(star), _) if star == "*" => true,
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len() && e.iter().all(|(k, v)| a.get(k).is_some_and(|actual| matches(v, actual)))
        }
        (Value::Array(e), Value::Array(a)) => e.len() == a.len() && e.iter().zip(a).all(|(e, a)| matches(e, a)),
        _ => expected == actual,
    }
}

/// One request over a new connection; the status and the JSON body.
fn send(
    manager: &ContractManager,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, Value) {
    let mut stream = TcpStream::connect(manager.address).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: manager\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut bytes = vec![0; length];
    reader.read_exact(&mut bytes).unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[test]
fn the_manager_answers_every_example_as_written() {
    let manager = ContractManager::start().unwrap();
    let mut token = String::new();
    let all = exchanges();
    assert!(all.len() >= 25, "{} examples", all.len());
    for (name, exchange) in all {
        let request = &exchange.request;
        let mut headers: Vec<(String, String)> = request.headers.clone().into_iter().collect();
        if request.auth {
            headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
        }
        let body = request.body.as_ref().map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
        let (status, answer) = send(&manager, &request.method, &request.path, &headers, &body);
        assert_eq!(status, exchange.response.status, "{name} ({}): {answer}", exchange.about);
        assert!(
            matches(&exchange.response.body, &answer),
            "{name} ({}):\nexpected {}\nanswered {answer}",
            exchange.about,
            exchange.response.body
        );
        if let Some(id) = answer.pointer("/token/tokenId").and_then(Value::as_str) {
            token = id.to_owned();
        }
    }
}

#[test]
fn tokens_die_after_their_uses_and_with_a_restart() {
    let manager = ContractManager::start().unwrap();
    manager.token_uses(Some(1));
    let login = serde_json::to_vec(&serde_json::json!({"userId": USER, "password": PASSWORD})).unwrap();
    let (status, answer) = send(&manager, "POST", "/HinemosWeb/api/AccessRestEndpoints/access/login", &[], &login);
    assert_eq!(status, 200);
    let bearer =
        vec![("X-HinemosToken".to_owned(), format!("Bearer {}", answer["token"]["tokenId"].as_str().unwrap()))];
    let list = "/HinemosWeb/api/RepositoryRestEndpoints/repository/node_withoutNodeConfigInfo";
    assert_eq!(send(&manager, "GET", list, &bearer, b"").0, 200);
    assert_eq!(send(&manager, "GET", list, &bearer, b"").0, 401);
    manager.token_uses(None);
    let (_, answer) = send(&manager, "POST", "/HinemosWeb/api/AccessRestEndpoints/access/login", &[], &login);
    let bearer = vec![("Authorization".to_owned(), format!("Bearer {}", answer["token"]["tokenId"].as_str().unwrap()))];
    assert_eq!(send(&manager, "GET", list, &bearer, b"").0, 200);
    manager.forget_tokens();
    assert_eq!(send(&manager, "GET", list, &bearer, b"").0, 401);
    // "Bearer" and the token, nothing else.
    let odd = vec![("Authorization".to_owned(), "Basic aGluZW1vczpoaW5lbW9z".to_owned())];
    assert_eq!(send(&manager, "GET", list, &odd, b"").0, 401);
    assert_eq!(manager.state().logins, 2);
}
