import { describe, expect, it } from 'vitest';
import { blockdevNodes, qemuCommand, type QemuCommandOptions } from '../../src/vm/qemu-command.js';
import { meaningfulStderrLine } from '../../src/vm/qemu-process.js';
import { UserError } from '../../src/util/errors.js';

const base: QemuCommandOptions = {
  chain: ['/s/result/aa/rootfs/image.qcow2', '/s/result/bb/rootfs/image.qcow2', '/s/base-image/b.qcow2'],
  overlay: '/tmp/lf-x/overlay.qcow2',
  accel: 'tcg',
  port: 40022,
  qmpSocket: '/tmp/lf-x/qmp.sock',
  consoleLog: '/tmp/lf-x/console.log',
};

interface Node {
  driver: string;
  'node-name': string;
  'read-only': boolean;
  file: { driver: string; filename: string; 'read-only'?: boolean };
  backing?: string | null;
}

function valuesOf(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1]!] : []));
}

describe('qemuCommand', () => {
  it('gives the chain explicitly as read-only blockdev nodes, base first, overlay writable on top', () => {
    const { file, args } = qemuCommand(base);
    expect(file).toBe('qemu-system-x86_64');
    const nodes = valuesOf(args, '-blockdev').map((j) => JSON.parse(j) as Node);
    expect(nodes.map((n) => n['node-name'])).toEqual(['chain2', 'chain1', 'chain0', 'overlay']);
    for (const n of nodes.slice(0, 3)) {
      expect(n.driver).toBe('qcow2');
      expect(n['read-only']).toBe(true);
      expect(n.file).toMatchObject({ driver: 'file', 'read-only': true });
    }
    expect(nodes[0]).toMatchObject({ file: { filename: '/s/base-image/b.qcow2' }, backing: null });
    expect(nodes[1]).toMatchObject({ file: { filename: '/s/result/bb/rootfs/image.qcow2' }, backing: 'chain2' });
    expect(nodes[2]).toMatchObject({ file: { filename: '/s/result/aa/rootfs/image.qcow2' }, backing: 'chain1' });
    expect(nodes[3]).toMatchObject({ driver: 'qcow2', 'read-only': false, backing: 'chain0', file: { filename: base.overlay } });
    expect(nodes[3]!.file['read-only']).toBeUndefined();
    expect(valuesOf(args, '-device')).toContain('virtio-blk-pci,drive=overlay');
    expect(args).not.toContain('-drive');
  });

  it('forwards SSH on 127.0.0.1 only, restricts the network, QMP on a socket, console to a file', () => {
    const { args } = qemuCommand(base);
    expect(valuesOf(args, '-netdev')).toEqual(['user,id=net0,restrict=yes,hostfwd=tcp:127.0.0.1:40022-:22']);
    expect(valuesOf(args, '-device')).toContain('virtio-net-pci,netdev=net0');
    expect(valuesOf(args, '-qmp')).toEqual(['unix:/tmp/lf-x/qmp.sock,server=on,wait=off']);
    expect(valuesOf(args, '-serial')).toEqual(['file:/tmp/lf-x/console.log']);
    expect(args).not.toContain('-monitor');
    expect(args).toContain('-nodefaults');
    expect(args).toContain('-no-user-config');
    expect(valuesOf(args, '-display')).toEqual(['none']);
  });

  it('uses obuilder defaults (2 cpus, 2G) and -cpu host only with kvm', () => {
    const tcg = qemuCommand(base).args;
    expect(valuesOf(tcg, '-smp')).toEqual(['2']);
    expect(valuesOf(tcg, '-m')).toEqual(['2G']);
    expect(valuesOf(tcg, '-machine')).toEqual(['type=pc,accel=tcg']);
    expect(tcg).not.toContain('-cpu');
    const kvm = qemuCommand({ ...base, accel: 'kvm', cpus: 4, memoryGb: 8 }).args;
    expect(valuesOf(kvm, '-machine')).toEqual(['type=pc,accel=kvm']);
    expect(valuesOf(kvm, '-cpu')).toEqual(['host']);
    expect(valuesOf(kvm, '-smp')).toEqual(['4']);
    expect(valuesOf(kvm, '-m')).toEqual(['8G']);
    expect(valuesOf(qemuCommand({ ...base, memoryGb: 0.5 }).args, '-m')).toEqual(['512M']);
  });

  it('a one-image chain has the base as the layer; raw bases have no backing key', () => {
    const nodes = blockdevNodes(['/s/base.img'], '/t/o.qcow2', ['raw']) as Record<string, unknown>[];
    expect(nodes[0]).toMatchObject({ driver: 'raw', 'node-name': 'chain0', 'read-only': true });
    expect('backing' in nodes[0]!).toBe(false);
    expect(nodes[1]).toMatchObject({ backing: 'chain0' });
  });

  it('rejects what it cannot express, as one-line UserErrors', () => {
    expect(() => qemuCommand({ ...base, arch: 'riscv64' })).toThrow(UserError);
    expect(() => qemuCommand({ ...base, arch: 'riscv64' })).toThrow(/riscv64.*not supported/);
    expect(() => qemuCommand({ ...base, chain: [] })).toThrow(/chain/);
    expect(() => qemuCommand({ ...base, chain: ['relative.qcow2'] })).toThrow(/absolute/);
    expect(() => qemuCommand({ ...base, qmpSocket: '/tmp/a,b/qmp.sock' })).toThrow(/comma/);
    expect(() => qemuCommand({ ...base, cpus: 0 })).toThrow(/--qemu-cpus/);
    expect(() => qemuCommand({ ...base, port: 70000 })).toThrow(/port/);
  });

  it('keeps odd file names intact inside the JSON (no option-string splitting)', () => {
    const odd = '/s/with,comma and space/image.qcow2';
    const nodes = valuesOf(qemuCommand({ ...base, chain: [odd] }).args, '-blockdev').map((j) => JSON.parse(j) as { file: { filename: string } });
    expect(nodes[0]!.file.filename).toBe(odd);
  });
});

describe('meaningfulStderrLine', () => {
  it('skips warnings and the program prefix', () => {
    expect(
      meaningfulStderrLine([
        "qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]",
        'qemu-system-x86_64: -blockdev {...}: Could not open \'/x\': No such file or directory',
      ]),
    ).toBe("-blockdev {...}: Could not open '/x': No such file or directory");
    expect(meaningfulStderrLine(['', 'qemu-system-x86_64: warning: only this'])).toBe('warning: only this');
    expect(meaningfulStderrLine([])).toBe('');
  });
});
