//go:build !unix

package httpapi_test

import "syscall"

// smallReceiveBuffer leaves the buffer as it is where sockets are not
// Unix ones.
func smallReceiveBuffer(_, _ string, _ syscall.RawConn) error { return nil }
