#!/usr/bin/env bash
# Records imap_dovecot_starttls.pcap on the loopback of a private network
# namespace: curl imap:// against dovecot 2.3 (passwd-file user
# tester/secret, throwaway): one session in the clear (CAPABILITY, LOGIN,
# SELECT INBOX, FETCH 1 BODY[] — the message comes back in a literal —,
# LOGOUT), then one with --ssl-reqd (STARTTLS, then TLS). Needs root, curl,
# tcpdump, openssl and Debian's dovecot-imapd. Then run record_tshark.sh and
# record_proto_tshark.sh on it.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/imap_dovecot_starttls.pcap
work=$(mktemp -d); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 3650 -subj "/CN=sockscope.test" 2>/dev/null
cat > inner.sh <<'INNER'
set -u
ip link set lo up
mkdir -p mail/tester/Maildir/{cur,new,tmp} run state
printf 'From: a@sockscope.test\r\nTo: b@sockscope.test\r\nSubject: imap literal\r\n\r\nline one\r\nline two\r\n' > mail/tester/Maildir/new/1.sockscope:2,
printf 'tester:{PLAIN}secret:%s:%s::%s/mail/tester\n' "$(id -u nobody)" "$(id -g nobody)" "$PWD" > users
chown -R nobody mail; chmod 644 users key.pem
cat > dovecot.conf <<CONF
protocols = imap
listen = 127.0.0.1
base_dir = $PWD/run
state_dir = $PWD/state
log_path = $PWD/dovecot.log
ssl = yes
ssl_cert = <$PWD/cert.pem
ssl_key = <$PWD/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = $PWD/users
}
userdb {
  driver = passwd-file
  args = $PWD/users
}
service imap-login {
  inet_listener imap {
    port = 1143
  }
  inet_listener imaps {
    port = 0
  }
}
default_internal_user = nobody
default_login_user = nobody
first_valid_uid = 1
CONF
dovecot -c dovecot.conf
sleep 1
tcpdump -i lo -s 0 -U -w "$OUT" 'tcp port 1143' 2>/dev/null & TP=$!
sleep 1
timeout 10 curl -s 'imap://tester:secret@127.0.0.1:1143/INBOX;UID=1' -o /dev/null || true
timeout 10 curl -sk --ssl-reqd 'imap://tester:secret@127.0.0.1:1143/INBOX;UID=1' -o /dev/null || true
sleep 1; kill $TP; wait $TP 2>/dev/null || true
doveadm -c dovecot.conf stop 2>/dev/null || kill "$(cat run/master.pid)" 2>/dev/null || true
INNER
OUT=$out timeout 60 unshare -n bash inner.sh
ls -l "$out"
