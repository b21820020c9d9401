#!/usr/bin/env bash
# Starts a real IMAP server (Dovecot from Debian's packages) on 127.0.0.1 for the email tests:
# user `bot`, password `bot-secret`, plaintext login allowed (it listens on loopback only).
# Idempotent: installs Dovecot when missing, writes its config and mail folders under
# EMAIL_TEST_DIR (default: a folder in the temp dir), and starts it unless it already answers.
#
#   scripts/email-test-servers.sh          # then: cargo test email
#   EMAIL_TEST_IMAP_PORT=14143 (default)   # the tests read EMAIL_TEST_IMAP_URL if it differs
set -euo pipefail

port="${EMAIL_TEST_IMAP_PORT:-14143}"
dir="${EMAIL_TEST_DIR:-${TMPDIR:-/tmp}/coordinator-email-test}"

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

if answers; then
  exit 0
fi

if ! command -v dovecot >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "email-test-servers: dovecot is not installed (apt-get install dovecot-imapd, as root)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
fi

mkdir -p "$dir/run" "$dir/state" "$dir/mail" "$dir/home"
chmod 755 "$dir" "$dir/run"
if id dovecot >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  mail_user=dovecot
  chown -R dovecot:dovecot "$dir/mail" "$dir/home"
else
  mail_user="$(id -un)"
fi
printf 'bot:{PLAIN}bot-secret\n' >"$dir/users"

cat >"$dir/dovecot.conf" <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:$dir/mail/%n
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $dir/users
}
userdb {
  driver = static
  args = uid=$mail_user gid=$mail_user home=$dir/home/%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
CONF

dovecot -c "$dir/dovecot.conf"
for _ in $(seq 1 50); do
  answers && exit 0
  sleep 0.1
done
echo "email-test-servers: Dovecot did not start; see $dir/dovecot.log" >&2
tail -20 "$dir/dovecot.log" >&2 || true
exit 1
