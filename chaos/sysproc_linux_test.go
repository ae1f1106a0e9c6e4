//go:build linux

package chaos

import "syscall"

// sysProcAttr makes a Caddy process die with the test process.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
