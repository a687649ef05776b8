//go:build unix

package httpapi_test

import (
	"errors"
	"syscall"
)

// smallReceiveBuffer shrinks a client socket's receive buffer, so that a
// client that does not read stops the server's writes soon.
func smallReceiveBuffer(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	return errors.Join(err, serr)
}
