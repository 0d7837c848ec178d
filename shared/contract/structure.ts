/**
 * The predicted structure arrives base64-encoded; its format (mmCIF or PDB) is told by its content,
 * not by a name, so that the stored file has the extension that tools expect.
 */

export interface StructureFile {
  bytes: Buffer;
  extension: 'cif' | 'pdb' | 'cif.gz' | 'bin';
  contentType: string;
}

const PDB_RECORDS = /^(HEADER|TITLE|REMARK|ATOM  |HETATM|MODEL |CRYST1|COMPND|SOURCE|EXPDTA|AUTHOR|SEQRES)/m;

export function decodeStructure(base64: string): StructureFile | undefined {
  return structureOf(Buffer.from(base64, 'base64'));
}

/** The structure file of these bytes, its format told by its content; undefined when empty. */
export function structureOf(bytes: Buffer): StructureFile | undefined {
  if (bytes.length === 0) return undefined;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    return { bytes, extension: 'cif.gz', contentType: 'application/gzip' };
  }
  const head = bytes.subarray(0, 4096).toString('latin1');
  const firstLine = head
    .split(/\r?\n/)
    .map((line) => line.trim())
    .find((line) => line !== '' && !line.startsWith('#'));
  if (firstLine?.startsWith('data_')) return { bytes, extension: 'cif', contentType: 'chemical/x-mmcif' };
  if (PDB_RECORDS.test(head)) return { bytes, extension: 'pdb', contentType: 'chemical/x-pdb' };
  return { bytes, extension: 'bin', contentType: 'application/octet-stream' };
}
