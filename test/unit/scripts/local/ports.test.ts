/** Ports for the local stack's functions, asked for one after another before any of them listens. */

describe('freePort', () => {
  it('never hands the same port out twice in one process, though each is closed before the next is asked for', async () => {
    const { freePort } = await import('../../../../scripts/local/ports');
    const ports = [];
    for (let i = 0; i < 200; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('chooses ports below the ephemeral range, which outgoing connections take their source ports from', async () => {
    const { freePort } = await import('../../../../scripts/local/ports');
    const { readFileSync } = await import('node:fs');
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    for (let i = 0; i < 50; i++) expect(await freePort()).toBeLessThan(low);
  });
});
