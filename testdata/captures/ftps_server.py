"""An FTP server with AUTH TLS for record_connect_ftps_keys.sh: pyftpdlib's
TLS_FTPHandler (Debian's python3-pyftpdlib and python3-openssl), anonymous,
serving ./ftproot on 127.0.0.1:argv[1], cert.pem and key.pem from the
working directory."""
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import TLS_FTPHandler
from pyftpdlib.servers import FTPServer

auth = DummyAuthorizer()
auth.add_anonymous("ftproot")
TLS_FTPHandler.certfile, TLS_FTPHandler.keyfile = "cert.pem", "key.pem"
TLS_FTPHandler.authorizer = auth
FTPServer(("127.0.0.1", int(sys.argv[1])), TLS_FTPHandler).serve_forever()
