//! Calls to AWS APIs from a plugin: credentials from the granted environment, each request signed
//! with [`sigv4`](crate::sigv4) at the host clock's time and sent with [`http::send`], and AWS's
//! error answers turned into [`PluginError`]s that say what failed and what to do.
//!
//! The plugin reaches only the endpoint the spec grants (`grants.network.http`) and reads only the
//! variables it grants; it declares both (`capabilities!(network, env = [...])`). A plugin that
//! declares all three variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`)
//! needs all three granted; the session token may be unset (long-term keys).

use crate::http::{self, Response};
use crate::sigv4::{self, Credentials, Signer};
use crate::{PluginError, clock};

/// The variable holding the access key id.
pub const ACCESS_KEY_ID_VAR: &str = "AWS_ACCESS_KEY_ID";
/// The variable holding the secret access key.
pub const SECRET_ACCESS_KEY_VAR: &str = "AWS_SECRET_ACCESS_KEY";
/// The variable holding the session token of temporary credentials (optional).
pub const SESSION_TOKEN_VAR: &str = "AWS_SESSION_TOKEN";

/// The credentials in the plugin's environment (see the module's documentation).
pub fn credentials_from_env() -> Result<Credentials, PluginError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let needed = |name: &str| {
        var(name).ok_or_else(|| {
            PluginError::invalid_config(format!(
                "{name} is not set for this plugin: set it in upshift's environment and grant it with \
                 grants.env = [\"{ACCESS_KEY_ID_VAR}\", \"{SECRET_ACCESS_KEY_VAR}\", \"{SESSION_TOKEN_VAR}\"]"
            ))
        })
    };
    Ok(Credentials {
        access_key_id: needed(ACCESS_KEY_ID_VAR)?,
        secret_access_key: needed(SECRET_ACCESS_KEY_VAR)?,
        session_token: var(SESSION_TOKEN_VAR),
    })
}

/// The endpoint of `service` in `region` unless `endpoint` names another (a VPC endpoint, a local
/// stand-in): `https://{service}.{region}.amazonaws.com`.
pub fn endpoint(service: &str, region: &str, endpoint: Option<&str>) -> String {
    endpoint
        .map_or_else(|| format!("https://{service}.{region}.amazonaws.com"), |e| e.trim_end_matches('/').to_string())
}

/// One AWS API, in one region, with one set of credentials.
#[derive(Debug, Clone)]
pub struct Client {
    pub credentials: Credentials,
    pub region: String,
    /// The signing name: `lambda`, `monitoring` (CloudWatch), ...
    pub service: String,
    /// `http(s)://host[:port]`, see [`endpoint`].
    pub endpoint: String,
}

/// A request to an AWS API, before signing.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    pub method: &'a str,
    /// The path as it goes on the wire: encode each segment a caller fills in with
    /// [`http::encode_query_value`] (a function ARN holds `:`).
    pub path: &'a str,
    /// Not encoded: the signer encodes them.
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

impl Client {
    /// Signs and sends `call`; a 2xx answer is returned, any other is an error (see [`failure`]).
    pub fn send(&self, call: &Call<'_>) -> Result<Response, PluginError> {
        let url = http::parse_url(&self.endpoint)?;
        if url.path != "/" {
            return Err(PluginError::invalid_config(format!(
                "endpoint {:?} must be scheme://host[:port] with no path",
                self.endpoint
            )));
        }
        let request = sigv4::Request {
            method: call.method,
            host: url.authority,
            path: call.path,
            query: call.query,
            headers: call.headers,
            body: call.body,
        };
        let timestamp = sigv4::amz_date(clock::now_millis() / 1000);
        let signed = Signer::new(&self.credentials, &self.region, &self.service, &timestamp)?.sign(&request)?;
        let mut headers: Vec<(&str, &str)> = call.headers.to_vec();
        headers.extend(signed.iter().map(|(name, value)| (*name, value.as_str())));
        let target = format!("{}{}", self.endpoint, request.path_and_query());
        let response = http::send(&http::Request {
            method: call.method,
            url: &target,
            headers: &headers,
            body: call.body,
            timeout: None,
        })?;
        if (200..300).contains(&response.status) {
            Ok(response)
        } else {
            Err(failure(&format!("{} {} {}", self.service, call.method, call.path), &response))
        }
    }
}

/// AWS's error answer as a [`PluginError`]: 401/403 `denied` (credentials or permissions),
/// 404 `invalid-config` (no such function, alias or metric namespace), 409/412 `conflict` (changed
/// meanwhile), 429 and 5xx `unavailable` and retryable, anything else `conflict`. The message
/// carries AWS's own (`message`/`Message` of its JSON, else the start of the body).
pub fn failure(what: &str, response: &Response) -> PluginError {
    let text = response.text();
    let said = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            let kind = v.get("__type").or_else(|| v.get("Type")).and_then(|t| t.as_str()).map(str::to_string);
            let message = v.get("message").or_else(|| v.get("Message")).and_then(|m| m.as_str()).map(str::to_string);
            match (kind, message) {
                (Some(k), Some(m)) => Some(format!("{k}: {m}")),
                (k, m) => k.or(m),
            }
        })
        .unwrap_or_else(|| text.chars().take(200).collect());
    let message = format!("{what}: HTTP {}: {said}", response.status);
    match response.status {
        401 | 403 => PluginError::denied(format!("{message} (check the credentials and their permissions)")),
        404 => PluginError::invalid_config(message),
        409 | 412 => PluginError::conflict(message),
        429 | 500..=599 => {
            let mut e = PluginError::unavailable(message);
            e.retryable = true;
            e
        }
        _ => PluginError::conflict(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn answer(status: u16, body: &str) -> Response {
        Response { status, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn error_answers_say_what_failed_and_are_classified() {
        let e = failure("lambda GET /x", &answer(404, r#"{"Type":"User","Message":"Function not found: f"}"#));
        assert_eq!(e.kind, ErrorKind::InvalidConfig);
        assert_eq!(e.message, "lambda GET /x: HTTP 404: User: Function not found: f");
        let e = failure("monitoring POST /", &answer(403, r#"{"__type":"AccessDenied","message":"no"}"#));
        assert_eq!(e.kind, ErrorKind::Denied);
        assert!(e.message.contains("AccessDenied: no") && e.message.contains("credentials"), "{}", e.message);
        let e = failure("x", &answer(503, "<html>busy</html>"));
        assert!(e.kind == ErrorKind::Unavailable && e.retryable && e.message.ends_with("<html>busy</html>"));
        assert_eq!(failure("x", &answer(412, "{}")).kind, ErrorKind::Conflict);
        assert_eq!(failure("x", &answer(400, "{}")).kind, ErrorKind::Conflict);
    }

    #[test]
    fn the_default_endpoint_is_the_regional_one() {
        assert_eq!(endpoint("lambda", "eu-west-1", None), "https://lambda.eu-west-1.amazonaws.com");
        assert_eq!(endpoint("lambda", "eu-west-1", Some("http://127.0.0.1:5000/")), "http://127.0.0.1:5000");
    }

    #[test]
    fn a_signed_call_reaches_the_server_with_its_signature_and_body() {
        let (address, server) = crate::http::tests::serve_once(b"HTTP/1.0 200 OK\r\n\r\n{\"ok\":true}", 2);
        let client = Client {
            credentials: Credentials {
                access_key_id: "AKID".into(),
                secret_access_key: "s".into(),
                session_token: None,
            },
            region: "us-east-1".into(),
            service: "lambda".into(),
            endpoint: format!("http://{address}"),
        };
        let call = Call {
            method: "PUT",
            path: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Af/aliases/live",
            query: &[("Qualifier", "2")],
            headers: &[("Content-Type", "application/json")],
            body: b"{}",
        };
        assert_eq!(client.send(&call).unwrap().text(), "{\"ok\":true}");
        let (head, body) = server.join().unwrap();
        assert_eq!(body, b"{}");
        assert!(head.starts_with("PUT /2015-03-31/functions/arn%3Aaws%3Alambda%3Af/aliases/live?Qualifier=2 HTTP/1.0"));
        assert!(head.contains("Authorization: AWS4-HMAC-SHA256 Credential=AKID/"), "{head}");
        assert!(head.contains("/us-east-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date"), "{head}");
    }
}
