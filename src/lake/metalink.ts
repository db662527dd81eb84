/** The metalink4 rendering of `POST /replicas/list` (transcript 07.4). */
export interface MetalinkFile {
  scope: string;
  name: string;
  bytes: number;
  adler32: string | null;
  md5: string | null;
  parents: string[] | undefined;
  urls: { rse: string; domain: string; priority: number; pfn: string }[];
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[ch] ?? ch);
}

export function renderMetalink(files: Iterable<MetalinkFile>): string {
  let out = '<?xml version="1.0" encoding="UTF-8"?>\n<metalink xmlns="urn:ietf:params:xml:ns:metalink">\n';
  for (const file of files) {
    out += ` <file name="${escapeXml(file.name)}">\n`;
    if (file.parents !== undefined) {
      out += '  <parents>\n';
      for (const parent of file.parents) out += `   <did>${escapeXml(parent)}</did>\n`;
      out += '  </parents>\n';
    }
    out += `  <identity>${escapeXml(`${file.scope}:${file.name}`)}</identity>\n`;
    if (file.adler32 !== null) out += `  <hash type="adler32">${file.adler32}</hash>\n`;
    if (file.md5 !== null) out += `  <hash type="md5">${file.md5}</hash>\n`;
    out += `  <size>${file.bytes}</size>\n`;
    out += `  <glfn name="/generic/rucio/${escapeXml(`${file.scope}:${file.name}`)}"></glfn>\n`;
    for (const url of file.urls) {
      out += `  <url location="${escapeXml(url.rse)}" domain="${url.domain}" priority="${url.priority}" client_extract="false">${escapeXml(url.pfn)}</url>\n`;
    }
    out += ' </file>\n';
  }
  return `${out}</metalink>\n`;
}
