//! The loopback guard of the network code: in loopback-only mode (`--world`, the
//! tests, `--loopback-only`) no DNS server, SMTP server or web host outside
//! 127.0.0.0/8 may be contacted. Every socket the scan or discovery opens asks here
//! first.

use std::net::IpAddr;

use anyhow::{Result, bail};

/// The loopback rule: only 127.0.0.0/8 may be contacted in loopback-only mode.
pub fn ensure_loopback(ip: IpAddr) -> Result<()> {
    match ip {
        IpAddr::V4(v4) if v4.octets()[0] == 127 => Ok(()),
        _ => bail!("loopback-only mode refuses {ip}: only 127.0.0.0/8 may be contacted"),
    }
}

#[cfg(test)]
mod tests {
    use super::ensure_loopback;

    #[test]
    fn only_127_slash_8_passes() {
        assert!(ensure_loopback("127.0.0.1".parse().unwrap()).is_ok());
        assert!(ensure_loopback("127.255.3.4".parse().unwrap()).is_ok());
        assert!(ensure_loopback("10.0.0.1".parse().unwrap()).is_err());
        assert!(ensure_loopback("::1".parse().unwrap()).is_err());
    }
}
