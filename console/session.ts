import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Client } from './api.ts';

/** Who the console acts for: the tenant, and whether the session may change anything. */
export interface SessionInfo {
  client: Client;
  tenantId: string;
  tenantName: string;
  readOnly: boolean;
  expiresAt?: string;
}

export const Session = createContext<SessionInfo | undefined>(undefined);

export function useSession(): SessionInfo {
  return useContext(Session)!;
}
