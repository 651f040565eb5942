// What a guest is and how it is booted: the option values and defaults, declared once and used by
// the CLI (choices), the pipeline and the VM layer. Names and defaults follow obuilder's
// (design.md section 2); the accelerator choice and privileges are this tool's own.

export const GUEST_OSES = ['linux', 'openbsd', 'windows'] as const;
export type GuestOs = (typeof GUEST_OSES)[number];

export const GUEST_ARCHES = ['amd64', 'riscv64'] as const;
export type GuestArch = (typeof GUEST_ARCHES)[number];

/** `auto`: KVM when it works, else TCG (saying why). */
export const ACCEL_CHOICES = ['auto', 'kvm', 'tcg'] as const;
export type AccelChoice = (typeof ACCEL_CHOICES)[number];

/** How the guest's tar runs: as root through doas or sudo, or as the SSH user. */
export const PRIVILEGES = ['none', 'doas', 'sudo'] as const;
export type Privilege = (typeof PRIVILEGES)[number];

/** obuilder's defaults, and this tool's for its own options. */
export const BOOT_DEFAULTS = {
  cpus: 2,
  memoryGb: 2,
  guestOs: 'linux' as GuestOs,
  guestArch: 'amd64' as GuestArch,
  bootTimeSec: 30,
  accel: 'auto' as AccelChoice,
  sshUser: 'opam',
};

/** Default privilege per guest OS (design.md section 4): doas on OpenBSD, sudo on Linux. */
export function defaultPrivilege(guestOs: GuestOs): Privilege {
  return guestOs === 'openbsd' ? 'doas' : guestOs === 'linux' ? 'sudo' : 'none';
}
