-- 0007_backup: what backups need from the key store. See docs/backup.md.
--
-- recovery_wrapped: every tenant key also sealed (crypto_box_seal) to the
-- offline recovery public key (ks.vault_meta 'recovery_pk'), so that a
-- backup can be restored with the recovery secret alone when the appliance
-- and its master key are lost. NULL once the key is destroyed, like wrapped.
ALTER TABLE ks.tenant_keys ADD COLUMN recovery_wrapped BLOB;

-- The erasure ledger: which person was erased when, and nothing personal.
-- Written with the shredding of the person's key, never pruned. Restoring
-- an older backup replays it, so a person erased after that backup was
-- made stays erased in the restored appliance.
CREATE TABLE ks.erasures (
    tenant_id INTEGER NOT NULL,
    person_id INTEGER NOT NULL,
    erased_at INTEGER NOT NULL,          -- unix seconds
    PRIMARY KEY (tenant_id, person_id)
) STRICT;
