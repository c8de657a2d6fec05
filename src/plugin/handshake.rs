//! The go-plugin handshake: the magic cookie that proves Terraform launched us, the protocol
//! version negotiation, and the one line on stdout that tells Terraform where to connect.
//! Pure functions, so the rules are unit-tested without a process.

/// Terraform sets this variable to this value for every provider it launches
/// (terraform `internal/plugin/serve.go`).
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// The only protocol version this provider speaks.
pub const PROTOCOL_VERSION: u32 = 5;
/// go-plugin's own handshake protocol version (the first field of the line).
pub const CORE_PROTOCOL_VERSION: u32 = 1;

/// The message a human sees when running the binary directly.
pub const NOT_LAUNCHED_BY_TERRAFORM: &str = "This binary is a plugin. These are not meant to be executed directly.\n\
Please execute the program that consumes these plugins, which will\n\
load any plugins automatically.\n\n\
terraform-provider-aksid is a Terraform provider: declare it in a terraform block\n\
(source = \"aksid/aksid\") and run `terraform init`.\n\
For debugging, run it with --debug and follow the printed instructions.";

pub fn cookie_ok(value: Option<&str>) -> bool {
    value == Some(MAGIC_COOKIE_VALUE)
}

/// Pick protocol 5 if the client offers it. `PLUGIN_PROTOCOL_VERSIONS` is a comma-separated
/// set in any order ("5,6" or "6,5"); an absent variable means the client predates
/// negotiation and we answer with our version.
pub fn negotiate_version(offered: Option<&str>) -> Result<u32, String> {
    let Some(offered) = offered.filter(|s| !s.trim().is_empty()) else {
        return Ok(PROTOCOL_VERSION);
    };
    let versions: Vec<u32> = offered.split(',').filter_map(|v| v.trim().parse().ok()).collect();
    if versions.contains(&PROTOCOL_VERSION) {
        Ok(PROTOCOL_VERSION)
    } else {
        Err(format!(
            "this provider speaks plugin protocol {PROTOCOL_VERSION}, but Terraform offered only {offered:?}; \
             use Terraform 0.12 or newer"
        ))
    }
}

/// Where the gRPC server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Unix(String),
    Tcp(String),
}

impl Address {
    pub fn network(&self) -> &'static str {
        match self {
            Address::Unix(_) => "unix",
            Address::Tcp(_) => "tcp",
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Address::Unix(s) | Address::Tcp(s) => s,
        }
    }
}

/// `CORE|APP|NETWORK|ADDR|grpc|CERT`: exactly six fields (older go-plugin splits into six, so
/// a seventh would corrupt the certificate). `server_cert_b64` is empty without AutoMTLS.
pub fn handshake_line(version: u32, addr: &Address, server_cert_b64: &str) -> String {
    format!("{CORE_PROTOCOL_VERSION}|{version}|{}|{}|grpc|{server_cert_b64}", addr.network(), addr.as_str())
}

/// The `TF_REATTACH_PROVIDERS` value that attaches Terraform to a provider we serve ourselves.
pub fn reattach_config(provider_address: &str, pid: u32, addr: &Address) -> String {
    serde_json::json!({
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": addr.network(), "String": addr.as_str() }
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_set_in_any_order() {
        assert_eq!(negotiate_version(Some("5,6")), Ok(5));
        assert_eq!(negotiate_version(Some("6,5")), Ok(5));
        assert_eq!(negotiate_version(Some(" 6 , 5 ")), Ok(5));
        assert_eq!(negotiate_version(None), Ok(5));
        assert!(negotiate_version(Some("6")).unwrap_err().contains("protocol 5"));
    }

    #[test]
    fn cookie_must_match_exactly() {
        assert!(cookie_ok(Some(MAGIC_COOKIE_VALUE)));
        assert!(!cookie_ok(None));
        assert!(!cookie_ok(Some("nope")));
    }

    #[test]
    fn line_has_six_fields() {
        let l = handshake_line(5, &Address::Unix("/tmp/p.sock".into()), "AAAA");
        assert_eq!(l, "1|5|unix|/tmp/p.sock|grpc|AAAA");
        assert_eq!(l.split('|').count(), 6);
        assert_eq!(handshake_line(5, &Address::Tcp("127.0.0.1:1234".into()), ""), "1|5|tcp|127.0.0.1:1234|grpc|");
    }

    #[test]
    fn reattach_is_what_terraform_parses() {
        let v: serde_json::Value = serde_json::from_str(&reattach_config(
            "registry.terraform.io/aksid/aksid",
            42,
            &Address::Unix("/s".into()),
        ))
        .unwrap();
        let p = &v["registry.terraform.io/aksid/aksid"];
        assert_eq!(p["ProtocolVersion"], 5);
        assert_eq!(p["Addr"]["Network"], "unix");
        assert_eq!(p["Pid"], 42);
    }
}
