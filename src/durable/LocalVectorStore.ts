import { DurableObject } from 'cloudflare:workers';
// Placeholder until the local vector index lands in this same change (helper-owned file).
export class LocalVectorStore extends DurableObject {}
