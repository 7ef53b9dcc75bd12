// SPDX-License-Identifier: AGPL-3.0-only
/** NKey users for nats-server configurations (intelmqctl nats-config): ed25519 keys of the NATS client's nkeys library. */
import { createUser, fromSeed } from "@nats-io/nkeys";

export interface UserNkey {
  /** The public key (U...), written into the server's configuration. */
  publicKey: string;
  /** The seed (SU...): the secret, written only into the user's credentials file. */
  seed: string;
}

/** A fresh NKey user. */
export function newUserNkey(): UserNkey {
  const kp = createUser();
  return { publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

/** The NKey user of a seed (SU...); null when it is none. */
export function userNkeyFromSeed(seed: string): UserNkey | null {
  if (!/^SU[A-Z2-7]+$/.test(seed)) return null;
  try {
    const kp = fromSeed(new TextEncoder().encode(seed));
    return { publicKey: kp.getPublicKey(), seed };
  } catch {
    return null;
  }
}
