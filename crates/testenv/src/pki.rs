//! The throwaway cluster's PKI: one CA, the API server's serving certificate, a client
//! certificate per user (CN = user, O = groups), all ECDSA P-256 and written as PEM files.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};

pub(crate) struct CertificateAuthority {
    cert: Certificate,
    key: KeyPair,
    pub(crate) cert_path: PathBuf,
}

impl CertificateAuthority {
    pub(crate) fn new(root: &Path) -> Result<Self> {
        let pki = root.join("pki");
        fs::create_dir_all(&pki)?;
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn("pg-testenv-ca", &[]);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        let cert_path = pki.join("ca.crt");
        fs::write(&cert_path, cert.pem())?;
        write_private(&pki.join("ca.key"), &key.serialize_pem())?;
        Ok(Self {
            cert,
            key,
            cert_path,
        })
    }

    /// Issue a leaf certificate (fresh ECDSA P-256 key) signed by this CA.
    pub(crate) fn issue(
        &self,
        common_name: &str,
        organizations: &[&str],
        sans: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<(Certificate, KeyPair)> {
        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        params.distinguished_name = dn(common_name, organizations);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok((cert, key))
    }
}

fn dn(common_name: &str, organizations: &[&str]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    // Kubernetes maps O= to groups, one per O attribute.
    for o in organizations {
        dn.push(DnType::OrganizationName, *o);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

pub(crate) fn write_pair(
    dir: &Path,
    stem: &str,
    pair: &(Certificate, KeyPair),
) -> Result<(PathBuf, PathBuf)> {
    let crt = dir.join(format!("{stem}.crt"));
    let key = dir.join(format!("{stem}.key"));
    fs::write(&crt, pair.0.pem())?;
    write_private(&key, &pair.1.serialize_pem())?;
    Ok((crt, key))
}

pub(crate) fn write_private(path: &Path, pem: &str) -> Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(pem.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_issues_client_cert_with_groups() {
        let dir = tempfile::tempdir().unwrap();
        let ca = CertificateAuthority::new(dir.path()).unwrap();
        let (cert, _key) = ca
            .issue(
                "alice",
                &["devs", "ops"],
                &[],
                ExtendedKeyUsagePurpose::ClientAuth,
            )
            .unwrap();
        assert!(cert.pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(dir.path().join("pki/ca.crt").is_file());
    }
}
