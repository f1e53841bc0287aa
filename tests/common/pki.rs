//! Test PKI (rcgen): certificate authorities, and server certificates signed by one of
//! them or by themselves, for the SMTP and HTTPS servers the tests run on loopback.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// A certificate authority: its parameters and key sign leaves, its PEM goes to files.
pub struct Authority {
    params: CertificateParams,
    key: KeyPair,
    /// The CA certificate (DER), for chains.
    pub der: CertificateDer<'static>,
    /// The CA certificate (PEM), for trust anchor files.
    pub pem: String,
}

impl Authority {
    /// A root (`parent` = `None`) or an intermediate signed by `parent`.
    pub fn new(name: &str, parent: Option<&Authority>) -> Authority {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("key");
        let cert = match parent {
            None => params.self_signed(&key),
            Some(p) => params.signed_by(&key, &Issuer::from_params(&p.params, &p.key)),
        }
        .expect("CA certificate");
        Authority {
            der: cert.der().clone(),
            pem: cert.pem(),
            params,
            key,
        }
    }
}

/// A distinguished name with its own CN and a country, so no two test certificates
/// share a subject (rcgen's default name would make every certificate look self-issued).
fn dn(cn: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, "CH");
    name.push(DnType::OrganizationName, "mxmap test");
    name.push(DnType::CommonName, cn);
    name
}

/// A server certificate and its key.
pub struct Leaf {
    /// Served chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The same as PEM.
    pub pems: Vec<String>,
    /// Its key.
    pub key: KeyPair,
}

impl Leaf {
    /// A leaf for `names`, signed by `issuer` (self-signed with CA:TRUE like
    /// `openssl req -x509` when `None`); `edit` adjusts validity and such.
    pub fn new(
        names: &[&str],
        issuer: Option<&Authority>,
        edit: impl FnOnce(&mut CertificateParams),
    ) -> Leaf {
        let sans: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans).expect("params");
        params.distinguished_name = dn(names.first().copied().unwrap_or("leaf"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if issuer.is_none() {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }
        edit(&mut params);
        let key = KeyPair::generate().expect("key");
        let cert = match issuer {
            None => params.self_signed(&key),
            Some(ca) => params.signed_by(&key, &Issuer::from_params(&ca.params, &ca.key)),
        }
        .expect("leaf");
        Leaf {
            chain: vec![cert.der().clone()],
            pems: vec![cert.pem()],
            key,
        }
    }

    /// Adds an intermediate to the served chain.
    pub fn with(mut self, intermediate: &Authority) -> Leaf {
        self.chain.push(intermediate.der.clone());
        self.pems.push(intermediate.pem.clone());
        self
    }

    /// The key as rustls wants it.
    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()))
    }

    /// The served chain as one PEM text.
    pub fn chain_pem(&self) -> String {
        self.pems.concat()
    }

    /// A TLS 1.2/1.3 server configuration serving this chain.
    pub fn tls_acceptor(&self) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(self.chain.clone(), self.key_der())
            .expect("server config");
        TlsAcceptor::from(Arc::new(config))
    }
}
