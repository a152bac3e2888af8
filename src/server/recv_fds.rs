//! `recvmsg` on a connection's socket: the bytes, and the descriptors of any `SCM_RIGHTS`
//! control message that came with them (protocol/SPEC.md 5.7).
//!
//! Descriptors are received with `MSG_CMSG_CLOEXEC` (none leaks into a child process) and
//! become [`OwnedFd`]s at once, so every path that drops them closes them.
//!
//! What Linux does with descriptors on a stream socket, which the reader's binding rule rests on
//! (checked by `tests/daemon/files.rs`): the descriptors stay with the bytes of the `sendmsg`
//! that carried them; a `recvmsg` takes the data queued before those bytes *and* at least the
//! first of them, delivers the descriptors, and stops there (a short read even when more data
//! waits). So one read brings at most one batch, and the batch belongs to the bytes at the
//! **end** of that read.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Room for the control data of one read, in `u64`s so that it is aligned for `cmsghdr`: 128
/// bytes, about 24 descriptors. More than that is truncated (`MSG_CTRUNC`); a frame takes one,
/// so any batch of more than one is refused anyway.
const CONTROL_WORDS: usize = 16;

/// What one `recvmsg` brought besides the descriptors it appended to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes written into the buffer; 0 is end of stream.
    pub len: usize,
    /// Descriptors appended.
    pub fds: usize,
    /// The kernel had more control data than fit (`MSG_CTRUNC`): descriptors were lost.
    pub truncated: bool,
}

impl Received {
    /// Whether control data came along (descriptors, or a truncated batch). Then the read may
    /// have stopped at the control message's boundary with more bytes waiting, so a short read
    /// does not mean the socket is drained.
    pub fn had_control(&self) -> bool {
        self.truncated || self.fds > 0
    }
}

/// One non-blocking `recvmsg` on `socket` into `buf`, appending received descriptors to `fds`.
/// `WouldBlock` when nothing is there (the caller waits for readiness).
pub fn recv_with_fds(socket: RawFd, buf: &mut [MaybeUninit<u8>], fds: &mut Vec<OwnedFd>) -> io::Result<Received> {
    let mut control = [0u64; CONTROL_WORDS];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: an all-zero msghdr is valid (null pointers, zero lengths); the fields set below
    // point at `iov` and `control`, which outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; CONTROL_WORDS]>() as _;
    let n = loop {
        // SAFETY: `msg` describes writable memory we own (`buf`'s spare bytes, `control`).
        let n = unsafe { libc::recvmsg(socket, &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT) };
        if n >= 0 {
            break n as usize;
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    };
    let before = fds.len();
    // SAFETY: the CMSG_* walk stays inside `msg_controllen` bytes of `control`, which the kernel
    // filled; each SCM_RIGHTS payload is an array of descriptors now installed in this process,
    // owned by nobody else, so wrapping each in an OwnedFd exactly once is sound.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let header = &*cmsg;
            if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
                let count = (header.cmsg_len as usize - libc::CMSG_LEN(0) as usize) / size_of::<libc::c_int>();
                for i in 0..count {
                    fds.push(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Received { len: n, fds: fds.len() - before, truncated: msg.msg_flags & libc::MSG_CTRUNC != 0 })
}
