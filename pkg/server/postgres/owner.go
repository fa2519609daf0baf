package postgres

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// serverUser is the operating-system user PostgreSQL runs as: the current
// user, or the `postgres` system user when sfp runs as root.
type serverUser struct {
	name     string
	uid, gid int
	groups   map[int]bool
	switched bool // true when it differs from the current user (root case)
}

// ServerUserName is the system user PostgreSQL runs as when sfp is root.
const ServerUserName = "postgres"

var lookupUser = user.Lookup

func serverOwner() (*serverUser, error) {
	if os.Geteuid() != 0 {
		return &serverUser{name: "", uid: os.Geteuid(), gid: os.Getegid()}, nil
	}
	u, err := lookupUser(ServerUserName)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root and there is no %q system user to run it as; "+
			"create one (`useradd --system --home-dir /var/lib/postgresql postgres`, or install the postgresql package) or run sfp as a non-root user: %w",
			ServerUserName, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	su := &serverUser{name: ServerUserName, uid: uid, gid: gid, switched: true, groups: map[int]bool{gid: true}}
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.Atoi(g); err == nil {
				su.groups[n] = true
			}
		}
	}
	return su, nil
}

func (u *serverUser) sysProcAttr() *syscall.SysProcAttr {
	if !u.switched {
		return nil
	}
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), NoSetGroups: true}}
}

// give hands one path to the server user.
func (u *serverUser) give(path string) error {
	if !u.switched {
		return nil
	}
	if err := os.Lchown(path, u.uid, u.gid); err != nil {
		return fmt.Errorf("hand %s to user %s: %w", path, u.name, err)
	}
	return nil
}

// giveTree hands a directory tree to the server user, fixing files that a
// root process (a restore, a copy) left behind. It is cheap when nothing
// needs changing.
func (u *serverUser) giveTree(root string) error {
	if !u.switched {
		return nil
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) == u.uid && int(st.Gid) == u.gid {
			return nil
		}
		return u.give(path)
	})
}

// writeFile writes a file readable only by the server user.
func (u *serverUser) writeFile(path string, data []byte, perm os.FileMode) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(path, perm); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	return u.give(path)
}

// checkReachable verifies that the server user can traverse every parent of
// dir, so that a root-owned 0700 directory above the tenant gives a clear
// error instead of a server that fails to start.
func (u *serverUser) checkReachable(dir string) error {
	if !u.switched {
		return nil
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("check %s: %w", p, err)
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return errors.New("check directory permissions: unsupported platform")
		}
		mode := info.Mode().Perm()
		var can bool
		switch {
		case int(st.Uid) == u.uid:
			can = mode&0o100 != 0
		case u.groups[int(st.Gid)]:
			can = mode&0o010 != 0
		default:
			can = mode&0o001 != 0
		}
		if !can {
			return fmt.Errorf("PostgreSQL runs as system user %q (sfp is root), which cannot reach %s: directory %s is not searchable by it (mode %04o); "+
				"use a base directory outside it (--base-dir or SFP_BASE_DIR) or allow traversal with `chmod o+x %s`",
				u.name, dir, p, mode, p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
