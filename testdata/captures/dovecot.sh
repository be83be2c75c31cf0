# dovecot.sh: sourced by record_mail.sh and record_imap.sh inside their
# namespace, in a work directory holding cert.pem and key.pem.
# dovecot_start PROTO PORT AUTH_MECHS MESSAGE_FILE starts dovecot serving
# PROTO (pop3 or imap) on 127.0.0.1:PORT for the throwaway passwd-file user
# tester/secret, whose maildir holds MESSAGE_FILE; dovecot_stop stops it.
dovecot_start() {
	local proto=$1 port=$2 mechs=$3 msg=$4
	mkdir -p mail/tester/Maildir/{cur,new,tmp} run state
	cp "$msg" mail/tester/Maildir/new/1.sockscope:2,
	printf 'tester:{PLAIN}secret:%s:%s::%s/mail/tester\n' "$(id -u nobody)" "$(id -g nobody)" "$PWD" > users
	chown -R nobody mail; chmod 644 users key.pem
	cat > dovecot.conf <<CONF
protocols = $proto
listen = 127.0.0.1
base_dir = $PWD/run
state_dir = $PWD/state
log_path = $PWD/dovecot.log
ssl = yes
ssl_cert = <$PWD/cert.pem
ssl_key = <$PWD/key.pem
disable_plaintext_auth = no
auth_mechanisms = $mechs
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = $PWD/users
}
userdb {
  driver = passwd-file
  args = $PWD/users
}
service $proto-login {
  inet_listener $proto {
    port = $port
  }
  inet_listener ${proto}s {
    port = 0
  }
}
default_internal_user = nobody
default_login_user = nobody
first_valid_uid = 1
CONF
	dovecot -c dovecot.conf
	sleep 1
}

dovecot_stop() {
	doveadm -c dovecot.conf stop 2>/dev/null || kill "$(cat run/master.pid)" 2>/dev/null || true
}
