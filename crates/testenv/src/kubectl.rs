//! kubectl against the cluster, and kubeconfigs for users.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::Result;
use rcgen::ExtendedKeyUsagePurpose;
use serde_json::json;

use crate::TestCluster;
use crate::pki::write_pair;

impl TestCluster {
    /// Run the harness's kubectl as the admin. Never panics on a non-zero exit.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_with(&self.admin_kubeconfig, args, None)
    }

    /// Run kubectl as the admin, feeding `stdin` if given (e.g. with `-f -`);
    /// return stdout, or panic with the command, its output and the state and log
    /// tail of every component ([`evidence`](Self::evidence)) on failure.
    pub fn kubectl_ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl_with(&self.admin_kubeconfig, args, stdin);
        if !out.status.success() {
            panic!(
                "kubectl {} failed ({}):\nstdout: {}\nstderr: {}\n{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.evidence()
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    /// Runs kubectl as the admin (like [`kubectl_ok`](Self::kubectl_ok)) and parses its JSON
    /// output: `kubectl_json(&["get", "ds", "-n", "kube-system", "x", "-o", "json"])`.
    pub fn kubectl_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.kubectl_ok(args, None);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("kubectl {} printed no JSON ({e}): {out}", args.join(" ")))
    }

    /// Run kubectl with another kubeconfig (e.g. one from
    /// [`kubeconfig_for_user`](Self::kubeconfig_for_user)), feeding `stdin` if given.
    pub fn kubectl_with(&self, kubeconfig: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(self.bin_dir.join("kubectl"));
        cmd.arg(format!("--kubeconfig={}", kubeconfig.display()))
            // Keep kubectl's discovery cache inside the temp dir, not ~/.kube.
            .arg(format!(
                "--cache-dir={}",
                self.root.join("kubectl-cache").display()
            ))
            .arg("--request-timeout=30s")
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", self.bin_dir.join("kubectl").display()));
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("piped stdin");
            // kubectl may exit before reading everything; ignore broken pipes.
            let _ = pipe.write_all(input.as_bytes());
        }
        child.wait_with_output().expect("waiting for kubectl")
    }

    /// Write a kubeconfig authenticating as user `name` in `groups` with a
    /// client certificate signed by the cluster CA (CN=name, O=groups), and
    /// return its path. The user has only the rights RBAC gives it: none for a
    /// fresh name, so requests get 403 Forbidden.
    pub fn kubeconfig_for_user(&self, name: &str, groups: &[&str]) -> PathBuf {
        self.try_kubeconfig_for_user(name, groups)
            .unwrap_or_else(|e| panic!("writing kubeconfig for {name}: {e:#}"))
    }

    pub(crate) fn try_kubeconfig_for_user(&self, name: &str, groups: &[&str]) -> Result<PathBuf> {
        let file_stem: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let cert = self
            .ca
            .issue(name, groups, &[], ExtendedKeyUsagePurpose::ClientAuth)?;
        let (crt, key) = write_pair(&self.root.join("pki"), &format!("user-{file_stem}"), &cert)?;
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{
                "name": "testenv",
                "cluster": {
                    "server": self.server_url(),
                    "certificate-authority": self.ca.cert_path,
                },
            }],
            "users": [{
                "name": name,
                "user": { "client-certificate": crt, "client-key": key },
            }],
            "contexts": [{
                "name": "testenv",
                "context": { "cluster": "testenv", "user": name, "namespace": "default" },
            }],
            "current-context": "testenv",
        });
        let path = self.root.join(format!("kubeconfig-{file_stem}.json"));
        fs::write(&path, serde_json::to_vec_pretty(&config)?)?;
        Ok(path)
    }
}
