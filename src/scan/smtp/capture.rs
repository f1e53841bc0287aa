//! The rustls verifier of a probe: it accepts every presented chain (the chain is
//! validated afterwards by [`super::cert`], so invalid certificates are still recorded)
//! but checks the handshake signatures.

// The session code and its helpers share the parent's imports.
#[allow(clippy::wildcard_imports)]
use super::*;

/// A certificate verifier that accepts every chain (ours is validated afterwards, so
/// invalid certificates are still recorded) but checks the handshake signatures and
/// remembers a failure.
#[derive(Debug)]
pub(super) struct CaptureOnly {
    algorithms: WebPkiSupportedAlgorithms,
    signature_error: Mutex<Option<String>>,
}

impl CaptureOnly {
    pub(super) fn new(provider: &CryptoProvider) -> Self {
        CaptureOnly {
            algorithms: provider.signature_verification_algorithms,
            signature_error: Mutex::new(None),
        }
    }

    pub(super) fn note(&self, result: Result<HandshakeSignatureValid, rustls::Error>) {
        if let Err(e) = result {
            let mut slot = self
                .signature_error
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(e.to_string());
        }
    }

    pub(super) fn signature_error(&self) -> Option<String> {
        self.signature_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ServerCertVerifier for CaptureOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.note(rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.algorithms,
        ));
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.note(rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.algorithms,
        ));
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
