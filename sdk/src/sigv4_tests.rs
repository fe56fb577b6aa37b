//! SigV4 against the published AWS test vectors and documentation examples.

use super::*;

// The credentials, region, service and time of the AWS SigV4 test suite.
const ACCESS_KEY_ID: &str = "AKIDEXAMPLE";
const SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_TIME: &str = "20150830T123600Z";

/// One request of the suite and how to sign it (the suite's `request.txt` and `context.json`).
struct Vector {
    method: &'static str,
    host: &'static str,
    path: &'static str,
    query: &'static [(&'static str, &'static str)],
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    session_token: Option<&'static str>,
    normalize_path: bool,
    content_sha256_header: bool,
    region: &'static str,
    service: &'static str,
    timestamp: &'static str,
}

const SUITE: Vector = Vector {
    method: "GET",
    host: "example.amazonaws.com",
    path: "/",
    query: &[],
    headers: &[],
    body: b"",
    session_token: None,
    normalize_path: true,
    content_sha256_header: false,
    region: "us-east-1",
    service: "service",
    timestamp: SUITE_TIME,
};

impl Vector {
    fn credentials(&self) -> Credentials {
        Credentials {
            access_key_id: ACCESS_KEY_ID.into(),
            secret_access_key: SECRET_ACCESS_KEY.into(),
            session_token: self.session_token.map(String::from),
        }
    }

    fn request(&self) -> Request<'static> {
        Request {
            method: self.method,
            host: self.host,
            path: self.path,
            query: self.query,
            headers: self.headers,
            body: self.body,
        }
    }

    fn signer<'a>(&'a self, credentials: &'a Credentials) -> Signer<'a> {
        let mut signer = Signer::new(credentials, self.region, self.service, self.timestamp).unwrap();
        if !self.normalize_path {
            signer = signer.without_path_normalization();
        }
        if self.content_sha256_header {
            signer = signer.with_content_sha256_header();
        }
        signer
    }
}

/// Signs `vector` and compares the three published outputs, and the headers the signer adds.
fn check(vector: Vector, canonical_request: &str, string_to_sign: &str, authorization: &str) {
    let credentials = vector.credentials();
    let signer = vector.signer(&credentials);
    let request = vector.request();
    assert_eq!(signer.canonical_request(&request).unwrap(), canonical_request, "canonical request");
    assert_eq!(signer.string_to_sign(&request).unwrap(), string_to_sign, "string to sign");
    let headers = signer.sign(&request).unwrap();
    let value = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
    assert_eq!(value("Authorization"), Some(authorization), "Authorization");
    assert_eq!(value("X-Amz-Date"), Some(vector.timestamp));
    assert_eq!(value("X-Amz-Security-Token"), vector.session_token);
    let content_sha256 = vector.content_sha256_header.then(|| hex(&Sha256::digest(vector.body)));
    assert_eq!(value("X-Amz-Content-Sha256"), content_sha256.as_deref());
}

// ---------------------------------------------------------------------------------------------
// The AWS SigV4 test suite, as the AWS Common Runtime keeps it: repository awslabs/aws-c-auth,
// tests/aws-signing-test-suite/v4/<name>/ (request.txt, context.json, header-canonical-request.txt,
// header-string-to-sign.txt, and the Authorization line of header-signed-request.txt).
// Credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, us-east-1, "service",
// 20150830T123600Z. In this version of the suite the signer adds X-Amz-Date itself, as ours does.
// ---------------------------------------------------------------------------------------------
/// `get-vanilla`
#[test]
fn get_vanilla() {
    check(
        Vector { ..SUITE },
        "GET\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
}

/// `get-vanilla-query-order-key-case`
#[test]
fn get_vanilla_query_order_key_case() {
    check(
        Vector { query: &[("Param2", "value2"), ("Param1", "value1")], ..SUITE },
        "GET\n\
         /\n\
         Param1=value1&Param2=value2\n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    );
}

/// `get-vanilla-query-order-encoded`
#[test]
fn get_vanilla_query_order_encoded() {
    check(
        Vector { query: &[("Param-3", "Value3"), ("Param", "Value2"), ("\u{1234}", "Value1")], ..SUITE },
        "GET\n\
         /\n\
         %E1%88%B4=Value1&Param=Value2&Param-3=Value3\n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         868294f5c38bd141c4972a373a76654f1418a8e4fc18b2e7903ae45e8ae0ec71",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac",
    );
}

/// `get-vanilla-query-unreserved`
#[test]
fn get_vanilla_query_unreserved() {
    check(
        Vector {
            query: &[(
                "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            )],
            ..SUITE
        },
        "GET\n\
         /\n\
         -._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    );
}

/// `get-vanilla-utf8-query`
#[test]
fn get_vanilla_utf8_query() {
    check(
        Vector { query: &[("\u{1234}", "bar")], ..SUITE },
        "GET\n\
         /\n\
         %E1%88%B4=bar\n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    );
}

/// `get-vanilla-with-session-token`
#[test]
fn get_vanilla_with_session_token() {
    check(
        Vector { session_token: Some("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"), ..SUITE },
        "GET\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         x-amz-security-token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n\
         \n\
         host;x-amz-date;x-amz-security-token\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         067b36aa60031588cea4a4cde1f21215227a047690c72247f1d70b32fbbfad2b",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8",
    );
}

/// `get-header-key-duplicate`
#[test]
fn get_header_key_duplicate() {
    check(
        Vector { headers: &[("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")], ..SUITE },
        "GET\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         my-header1:value2,value2,value1\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;my-header1;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    );
}

/// `get-header-value-order`
#[test]
fn get_header_value_order() {
    check(
        Vector {
            headers: &[
                ("My-Header1", "value4"),
                ("My-Header1", "value1"),
                ("My-Header1", "value3"),
                ("My-Header1", "value2"),
            ],
            ..SUITE
        },
        "GET\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         my-header1:value4,value1,value3,value2\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;my-header1;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    );
}

/// `get-header-value-trim`
#[test]
fn get_header_value_trim() {
    check(
        Vector { headers: &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")], ..SUITE },
        "GET\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         my-header1:value1\n\
         my-header2:\"a b c\"\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;my-header1;my-header2;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;my-header2;x-amz-date, Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    );
}

/// `get-header-value-multiline`
#[test]
fn get_header_value_multiline() {
    check(
        Vector { headers: &[("My-Header1", "value1\n  value2\n     value3")], ..SUITE },
        "GET\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         my-header1:value1 value2 value3\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;my-header1;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         e99419459a677bc11de234014be3c4e72c1ea5b454ceb58b613061f5d7a162e8",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd",
    );
}

/// `get-utf8`
#[test]
fn get_utf8() {
    check(
        Vector { path: "/\u{1234}", ..SUITE },
        "GET\n\
         /%E1%88%B4\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    );
}

/// `get-unreserved`
#[test]
fn get_unreserved() {
    check(
        Vector { path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", ..SUITE },
        "GET\n\
         /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    );
}

/// `get-space-normalized`
#[test]
fn get_space_normalized() {
    check(
        Vector { path: "/example space/", ..SUITE },
        "GET\n\
         /example%20space/\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
    );
}

/// `get-space-unnormalized`
#[test]
fn get_space_unnormalized() {
    check(
        Vector { path: "/example space/", normalize_path: false, ..SUITE },
        "GET\n\
         /example%20space/\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
    );
}

/// `get-slash-normalized`
#[test]
fn get_slash_normalized() {
    check(
        Vector { path: "//", ..SUITE },
        "GET\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
}

/// `get-slash-unnormalized`
#[test]
fn get_slash_unnormalized() {
    check(
        Vector { path: "//", normalize_path: false, ..SUITE },
        "GET\n\
         //\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         80cb39203d058af815de2b79250ff56e1b73eb9b4718c86556cdc6f150c5d209",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=c88bcd3d312d75078c0cd961d6deae3f4c754924b01669efcfcb439fd5e5b76e",
    );
}

/// `get-slashes-normalized`
#[test]
fn get_slashes_normalized() {
    check(
        Vector { path: "//example//", ..SUITE },
        "GET\n\
         /example/\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84",
    );
}

/// `get-slashes-unnormalized`
#[test]
fn get_slashes_unnormalized() {
    check(
        Vector { path: "//example//", normalize_path: false, ..SUITE },
        "GET\n\
         //example//\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         528ec3105ee1f34ab014bb0a1a45da0ed2742a4fea3555149e5b4d5d201eb240",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5",
    );
}

/// `get-slash-dot-slash-normalized`
#[test]
fn get_slash_dot_slash_normalized() {
    check(
        Vector { path: "/./", ..SUITE },
        "GET\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
}

/// `get-slash-dot-slash-unnormalized`
#[test]
fn get_slash_dot_slash_unnormalized() {
    check(
        Vector { path: "/./", normalize_path: false, ..SUITE },
        "GET\n\
         /./\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         d67825e2268bd77a97c7688b8d72c31a3c1855b309808505ba0a9747d2465aa7",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=68714168e6557f8f2de0ef956fc24dc2593a4bd2961f8df51898d8a134695145",
    );
}

/// `get-slash-pointless-dot-normalized`
#[test]
fn get_slash_pointless_dot_normalized() {
    check(
        Vector { path: "/./example", ..SUITE },
        "GET\n\
         /example\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5",
    );
}

/// `get-slash-pointless-dot-unnormalized`
#[test]
fn get_slash_pointless_dot_unnormalized() {
    check(
        Vector { path: "/./example", normalize_path: false, ..SUITE },
        "GET\n\
         /./example\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         73895e0e829507e28e39fd24669aedc2434a8e179e547e3c075b42921f952cdb",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=beb03f223f7deae4146464f06e29eebbee9c8afbe15c290cf07aa8b119e14cff",
    );
}

/// `get-relative-normalized`
#[test]
fn get_relative_normalized() {
    check(
        Vector { path: "/example/..", ..SUITE },
        "GET\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
}

/// `get-relative-unnormalized`
#[test]
fn get_relative_unnormalized() {
    check(
        Vector { path: "/example/..", normalize_path: false, ..SUITE },
        "GET\n\
         /example/..\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         0511f456aa502b456d135fcb9d749374a55228f9dbeedda1eacf659e05b0615b",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=eca7ead57bb5aa5c8e28007acd4ff04e1ff9a0ff3b237ec1554a184887ff9282",
    );
}

/// `get-relative-relative-normalized`
#[test]
fn get_relative_relative_normalized() {
    check(
        Vector { path: "/example1/example2/../..", ..SUITE },
        "GET\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
}

/// `get-relative-relative-unnormalized`
#[test]
fn get_relative_relative_unnormalized() {
    check(
        Vector { path: "/example1/example2/../..", normalize_path: false, ..SUITE },
        "GET\n\
         /example1/example2/../..\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         76115030c0f3ff06c20fdff5ceb6d5e0b835a1743e00b94fea7c7f381269437b",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=dc33e0856fd4baca4d7aa2146c38958283844764f38c74252a333df5e613003b",
    );
}

/// `post-vanilla`
#[test]
fn post_vanilla() {
    check(
        Vector { method: "POST", ..SUITE },
        "POST\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    );
}

/// `post-vanilla-query`
#[test]
fn post_vanilla_query() {
    check(
        Vector { method: "POST", query: &[("Param1", "value1")], ..SUITE },
        "POST\n\
         /\n\
         Param1=value1\n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
    );
}

/// `post-header-key-sort`
#[test]
fn post_header_key_sort() {
    check(
        Vector { method: "POST", headers: &[("My-Header1", "value1")], ..SUITE },
        "POST\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         my-header1:value1\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;my-header1;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c",
    );
}

/// `post-header-value-case`
#[test]
fn post_header_value_case() {
    check(
        Vector { method: "POST", headers: &[("My-Header1", "VALUE1")], ..SUITE },
        "POST\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         my-header1:VALUE1\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         host;my-header1;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;my-header1;x-amz-date, Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    );
}

/// `post-sts-header-before`
#[test]
fn post_sts_header_before() {
    check(
        Vector {
            method: "POST",
            session_token: Some(
                "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==",
            ),
            ..SUITE
        },
        "POST\n\
         /\n\
         \n\
         host:example.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         x-amz-security-token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==\n\
         \n\
         host;x-amz-date;x-amz-security-token\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
    );
}

/// `post-x-www-form-urlencoded`
#[test]
fn post_x_www_form_urlencoded() {
    check(
        Vector {
            method: "POST",
            headers: &[("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", "13")],
            body: b"Param1=value1",
            content_sha256_header: true,
            ..SUITE
        },
        "POST\n\
         /\n\
         \n\
         content-length:13\n\
         content-type:application/x-www-form-urlencoded\n\
         host:example.amazonaws.com\n\
         x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         content-length;content-type;host;x-amz-content-sha256;x-amz-date\n\
         9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b",
    );
}

/// `post-x-www-form-urlencoded-parameters`
#[test]
fn post_x_www_form_urlencoded_parameters() {
    check(
        Vector {
            method: "POST",
            headers: &[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"), ("Content-Length", "13")],
            body: b"Param1=value1",
            content_sha256_header: true,
            ..SUITE
        },
        "POST\n\
         /\n\
         \n\
         content-length:13\n\
         content-type:application/x-www-form-urlencoded; charset=utf-8\n\
         host:example.amazonaws.com\n\
         x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         content-length;content-type;host;x-amz-content-sha256;x-amz-date\n\
         9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/service/aws4_request\n\
         a89f1a5b53e37702ee6363ce1da3ce8f54386f3c8f352ae652153c2982a0bc4d",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422",
    );
}

// ---------------------------------------------------------------------------------------------
// Double encoding of the path, from the vectors smithy-rs (AWS SDK for Rust) adds to the suite:
// repository smithy-lang/smithy-rs, aws/rust-runtime/aws-sigv4/aws-signing-test-suite/v4/<name>/.
// ---------------------------------------------------------------------------------------------
/// `double-url-encode`: a Lambda function ARN in the path, percent-encoded on the wire, is
/// encoded a second time in the canonical URI. smithy-rs checks the canonical request of this
/// vector; the string to sign and `Authorization` are those of the same directory's files.
#[test]
fn double_url_encode() {
    check(
        Vector {
            method: "POST",
            host: "lambda.us-east-2.amazonaws.com",
            path: "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-west-2%3A892717189312%3Afunction%3Amy-rusty-fun/invocations",
            region: "us-east-2",
            service: "lambda",
            timestamp: "20210511T154045Z",
            ..SUITE
        },
        "POST\n\
         /2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-west-2%253A892717189312%253Afunction%253Amy-rusty-fun/invocations\n\
         \n\
         host:lambda.us-east-2.amazonaws.com\n\
         x-amz-date:20210511T154045Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20210511T154045Z\n\
         20210511/us-east-2/lambda/aws4_request\n\
         684dbb3c92a8b6b1e452e23e523c1ea941c713a4c13500bb9f3bdad1e19afaf7",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20210511/us-east-2/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=4b93abbcc68be32bd64c18e2c71150660ab4c29bbd6c32a383a7517a88fc1804",
    );
}

/// `double-encode-path`: `@` is encoded and an encoded `=` (`%3D`) becomes `%253D`. Only the
/// canonical request of this vector is consistent (its other files carry another date).
#[test]
fn double_encode_path() {
    let vector = Vector {
        method: "POST",
        host: "tj9n5r0m12.execute-api.us-east-1.amazonaws.com",
        path: "/test/@connections/JBDvjfGEIAMCERw%3D",
        timestamp: "20210511T154045Z",
        ..SUITE
    };
    let credentials = vector.credentials();
    assert_eq!(
        vector.signer(&credentials).canonical_request(&vector.request()).unwrap(),
        "POST\n\
         /test/%40connections/JBDvjfGEIAMCERw%253D\n\
         \n\
         host:tj9n5r0m12.execute-api.us-east-1.amazonaws.com\n\
         x-amz-date:20210511T154045Z\n\
         \n\
         host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

// ---------------------------------------------------------------------------------------------
// The worked examples of the AWS documentation.
// ---------------------------------------------------------------------------------------------
/// "Examples of how to derive a signing key for Signature Version 4" (AWS General Reference,
/// docs.aws.amazon.com/general/latest/gr/signature-v4-examples.html, since retired): secret
/// wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam. Each step is checked.
#[test]
fn each_step_of_the_key_derivation_matches_the_documented_example() {
    let k_secret = format!("AWS4{SECRET_ACCESS_KEY}");
    assert_eq!(
        hex(k_secret.as_bytes()),
        "41575334774a616c725855746e46454d492f4b374d44454e472b62507852666943594558414d504c454b4559"
    );
    let k_date = hmac_sha256(k_secret.as_bytes(), b"20120215");
    assert_eq!(hex(&k_date), "969fbb94feb542b71ede6f87fe4d5fa29c789342b0f407474670f0c2489e0a0d");
    let k_region = hmac_sha256(&k_date, b"us-east-1");
    assert_eq!(hex(&k_region), "69daa0209cd9c5ff5c8ced464a696fd4252e981430b10e3d3fd8e2f197d7a70c");
    let k_service = hmac_sha256(&k_region, b"iam");
    assert_eq!(hex(&k_service), "f72cfd46f26bc4643f06a11eabb6c0ba18780c19a8da0c31ace671265e3c87fa");
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    assert_eq!(hex(&k_signing), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    assert_eq!(signing_key(SECRET_ACCESS_KEY, "20120215", "us-east-1", "iam"), k_signing);
}

/// "Task 3: Calculate the signature for AWS Signature Version 4" (AWS General Reference,
/// docs.aws.amazon.com/general/latest/gr/sigv4-calculate-signature.html): the signing key for
/// 20150830, us-east-1, iam (also checked by mongodb/libmongocrypt,
/// kms-message/test/test_kms_request.c, `example_signature_test`).
#[test]
fn the_signing_key_matches_the_documented_iam_example() {
    assert_eq!(
        hex(&signing_key(SECRET_ACCESS_KEY, "20150830", "us-east-1", "iam")),
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
    );
}

/// The IAM `ListUsers` request that runs through the same General Reference pages ("Task 1:
/// Create a canonical request", "Task 2: Create a string to sign", "Task 3", "Task 4: Add the
/// signature to the HTTP request"): canonical request hash f536975d..., signature 5d672d79....
#[test]
fn the_documented_iam_list_users_request_signs_as_published() {
    check(
        Vector {
            host: "iam.amazonaws.com",
            query: &[("Action", "ListUsers"), ("Version", "2010-05-08")],
            headers: &[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
            service: "iam",
            ..SUITE
        },
        "GET\n\
         /\n\
         Action=ListUsers&Version=2010-05-08\n\
         content-type:application/x-www-form-urlencoded; charset=utf-8\n\
         host:iam.amazonaws.com\n\
         x-amz-date:20150830T123600Z\n\
         \n\
         content-type;host;x-amz-date\n\
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "AWS4-HMAC-SHA256\n\
         20150830T123600Z\n\
         20150830/us-east-1/iam/aws4_request\n\
         f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    );
}

// ---------------------------------------------------------------------------------------------
// Timestamps. Expected texts checked against GNU date: `date -u -d @SECONDS +%Y%m%dT%H%M%SZ`.
// ---------------------------------------------------------------------------------------------

#[test]
fn the_epoch_is_the_first_second_of_1970() {
    assert_eq!(amz_date(0), "19700101T000000Z");
}

#[test]
fn the_suite_time_in_unix_seconds_is_the_suite_timestamp() {
    assert_eq!(amz_date(1_440_938_160), SUITE_TIME);
}

#[test]
fn a_leap_day_of_a_year_divisible_by_400_exists() {
    assert_eq!(amz_date(951_782_400), "20000229T000000Z");
    assert_eq!(amz_date(951_868_800), "20000301T000000Z");
}

#[test]
fn the_day_after_february_28_of_a_century_year_is_march_1() {
    assert_eq!(amz_date(4_107_456_000), "21000228T000000Z");
    assert_eq!(amz_date(4_107_542_400), "21000301T000000Z");
}

#[test]
fn the_last_second_of_year_9999_still_has_four_year_digits() {
    assert_eq!(amz_date(253_402_300_799), "99991231T235959Z");
}

#[test]
fn a_timestamp_in_another_form_is_refused() {
    let credentials = SUITE.credentials();
    for bad in ["2015-08-30T12:36:00Z", "20150830T123600", "20151330T123600Z", "20150830T246000Z", "", "x"] {
        let err = Signer::new(&credentials, "us-east-1", "service", bad).unwrap_err();
        assert!(err.message.contains("YYYYMMDDTHHMMSSZ"), "{bad:?}: {}", err.message);
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs the signer refuses rather than sign into something the service would reject.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_header_the_signer_sets_is_refused_from_the_caller() {
    let credentials = SUITE.credentials();
    let signer = SUITE.signer(&credentials);
    for name in ["Host", "X-Amz-Date", "authorization", "X-Amz-Security-Token", "x-amz-content-sha256"] {
        let headers = [(name, "x")];
        let request = Request { headers: &headers, ..SUITE.request() };
        let err = signer.sign(&request).unwrap_err();
        assert!(err.message.contains("the signer sets it"), "{name}: {}", err.message);
    }
}

#[test]
fn a_query_inside_the_path_is_refused() {
    let credentials = SUITE.credentials();
    let request = Request { path: "/?Param1=value1", ..SUITE.request() };
    let err = SUITE.signer(&credentials).sign(&request).unwrap_err();
    assert!(err.message.contains("query"), "{}", err.message);
}

#[test]
fn a_header_name_with_a_space_is_refused() {
    let credentials = SUITE.credentials();
    let headers = [("My Header", "x")];
    let request = Request { headers: &headers, ..SUITE.request() };
    assert!(SUITE.signer(&credentials).sign(&request).is_err());
}

#[test]
fn the_secret_and_token_stay_out_of_debug_output() {
    let credentials = Credentials { session_token: Some("TOKEN".into()), ..SUITE.credentials() };
    let shown = format!("{credentials:?}");
    assert!(shown.contains(ACCESS_KEY_ID), "{shown}");
    assert!(!shown.contains(SECRET_ACCESS_KEY) && !shown.contains("TOKEN"), "{shown}");
}

#[test]
fn the_wire_query_is_the_signed_query() {
    // get-vanilla-query-order-key-case: the signature covers `Param1=value1&Param2=value2`.
    let request = Request { query: &[("Param2", "value2"), ("Param1", "value1")], ..SUITE.request() };
    assert_eq!(request.path_and_query(), "/?Param1=value1&Param2=value2");
    assert_eq!(SUITE.request().path_and_query(), "/");
}
