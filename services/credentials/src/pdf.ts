import { PDFDocument, StandardFonts, rgb } from 'pdf-lib';
import QRCode from 'qrcode';

export interface Certificate {
  learnerName: string;
  courseTitle: string;
  issuerName: string;
  issuedAt: Date;
  code: string;
  verifyUrl: string;
}

/** WinAnsi (the standard fonts' encoding) cannot draw every character: what it cannot becomes `?`. */
function printable(s: string): string {
  return s.normalize('NFC').replace(/[^\u0020-\u007e\u00a0-\u00ff]/g, '?');
}

/** A one-page A4 landscape certificate: who, what, when, the code, and a QR code of the verification URL. */
export async function certificatePdf(c: Certificate): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.setTitle(printable(`Certificate ${c.code}`));
  doc.setSubject(printable(`${c.learnerName} completed ${c.courseTitle}`));
  doc.setCreator(printable(c.issuerName));
  const page = doc.addPage([842, 595]);
  const regular = await doc.embedFont(StandardFonts.Helvetica);
  const bold = await doc.embedFont(StandardFonts.HelveticaBold);
  const centre = (text: string, y: number, size: number, font = regular) => {
    const t = printable(text);
    // Too wide for the page (a long course title): cut, with an ellipsis the standard fonts can draw.
    const width = font.widthOfTextAtSize(t, size);
    const shown = width > 760 ? `${t.slice(0, Math.floor((t.length * 760) / width) - 3)}...` : t;
    page.drawText(shown, { x: (842 - font.widthOfTextAtSize(shown, size)) / 2, y, size, font, color: rgb(0.1, 0.1, 0.2) });
  };
  page.drawRectangle({ x: 24, y: 24, width: 794, height: 547, borderWidth: 2, borderColor: rgb(0.2, 0.3, 0.5) });
  centre('Certificate of Completion', 470, 34, bold);
  centre('This certifies that', 420, 14);
  centre(c.learnerName, 380, 28, bold);
  centre('has completed the course', 340, 14);
  centre(c.courseTitle, 300, 22, bold);
  centre(`Issued by ${c.issuerName} on ${c.issuedAt.toISOString().slice(0, 10)}`, 255, 12);
  page.drawText(printable(`Verification code: ${c.code}`), { x: 60, y: 90, size: 12, font: bold });
  page.drawText(printable(c.verifyUrl), { x: 60, y: 70, size: 8, font: regular });
  const qr = await doc.embedPng(await QRCode.toBuffer(c.verifyUrl, { type: 'png', margin: 1, width: 240, errorCorrectionLevel: 'M' }));
  page.drawImage(qr, { x: 842 - 60 - 120, y: 50, width: 120, height: 120 });
  return doc.save({ useObjectStreams: false });
}
