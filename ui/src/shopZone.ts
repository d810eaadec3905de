// The shop's time zone (the app's configured `timezone`) before anyone has signed in.
//
// The core tells its zone to staff only (AppInfo needs a session), yet the sign-in screen's status
// bar shows the time of the last health check: in the machine's zone it read UTC on a server
// whose shop keeps Asia/Shanghai time, while every page after sign-in used the shop's. The zone
// the core last said is kept on this computer and used until it says again.

import { isKnownZone, machineZone } from './zoned'

export const ZONE_STORAGE_KEY = 'opsdeck.shopZone'

/** Keeps the zone the core said, for the next start. */
export function rememberShopZone(zone: string): void {
  try {
    globalThis.localStorage?.setItem(ZONE_STORAGE_KEY, zone)
  } catch {
    // storage refused (private mode, quota): the machine's zone serves until sign-in
  }
}

/** The zone the core said last time on this computer, if any. */
export function rememberedShopZone(): string | null {
  try {
    const stored = globalThis.localStorage?.getItem(ZONE_STORAGE_KEY)
    if (stored && isKnownZone(stored)) return stored
  } catch {
    // as above
  }
  return null
}

/** The zone to show times in: the core's when known, else the one it last said, else the machine's. */
export function shopZone(known: string | null | undefined): string {
  return known || rememberedShopZone() || machineZone()
}
