// Package deploy holds the deployment files (Dockerfile, Procfile,
// docker-compose.yml, systemd units, Kubernetes manifests); it has no code.
// Its tests parse every file that can be checked here: YAML with Python's
// yaml module, systemd units with systemd-analyze verify.
package deploy
