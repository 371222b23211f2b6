//go:build linux || darwin || freebsd || dragonfly || aix

package disk

import "golang.org/x/sys/unix"

// available returns the bytes free to unprivileged users of the file
// system holding dir: f_bavail blocks of f_bsize bytes.
func available(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	// Signed on some systems, where it goes negative once root has eaten
	// into the reserve.
	blocks := int64(st.Bavail)
	if blocks < 0 {
		blocks = 0
	}
	return uint64(blocks) * uint64(st.Bsize), nil
}
