import { deliveryId } from '../../../../shared/contract/delivery';

describe('deliveryId', () => {
  it('is the same for the same call and status, whatever else differs', () => {
    expect(deliveryId('call-1', 'success')).toBe(deliveryId('call-1', 'success'));
  });
  it.each([
    ['call-1', 'failure'],
    ['call-2', 'success'],
  ] as const)('differs for %s/%s', (call, status) => {
    expect(deliveryId(call, status)).not.toBe(deliveryId('call-1', 'success'));
  });
  it('is a short opaque id safe for document ids', () => {
    expect(deliveryId('call-1', 'success')).toMatch(/^dlv_[0-9a-f]{32}$/);
  });
});
