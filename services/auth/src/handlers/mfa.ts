import { authEvents, DomainError, usersInternal } from '@lms/contracts';
import { mfaRequiredRoles } from '@lms/runtime';
import QRCode from 'qrcode';
import type { AuthHandlers } from '../deps.js';
import { newRecoveryCodes, newTotpSecret, normaliseRecoveryCode, otpauthUri, verifyTotp } from '../domain/totp.js';
import { checkCurrentPassword, checkSecondFactor, clientFields, MFA_CHALLENGE_ATTEMPTS, notify, openSession, sha256 } from './shared.js';

const wrongCode = () => new DomainError('INVALID_CREDENTIALS', 'The code is wrong');

/** Two-step sign-in (TOTP and recovery codes): finishing a login, enrolment, removal, new recovery codes. */
export const mfaHandlers: Pick<AuthHandlers, 'mfaVerify' | 'mfaStatus' | 'mfaEnrol' | 'mfaConfirm' | 'mfaDisable' | 'mfaRecoveryCodes'> = {
  async mfaVerify({ input, repo, deps, call, client, uow, logger }) {
    if ((input.code === undefined) === (input.recoveryCode === undefined)) {
      throw new DomainError('VALIDATION_FAILED', 'Give either code or recoveryCode', {
        issues: [{ path: 'code', message: 'give either code or recoveryCode', code: 'custom' }],
      });
    }
    const { mfaThrottle } = deps;
    const hash = sha256(input.mfaToken);
    const challenge = await repo.attemptChallenge(hash, MFA_CHALLENGE_ATTEMPTS);
    if (!challenge) throw new DomainError('TOKEN_INVALID', 'The sign-in attempt has expired; log in again');
    const userId = challenge.user_id;
    await mfaThrottle.check(userId, client?.ip);
    const used = await checkSecondFactor(repo, await deps.sealer(), userId, input);
    if (!used) {
      await mfaThrottle.failed(userId, client?.ip);
      await uow(({ emit }) => emit(authEvents.loginFailed, { emailHash: '', userId, reason: 'bad_second_factor', ...clientFields(client) }, userId));
      throw wrongCode();
    }
    if (!(await repo.finishChallenge(hash))) throw new DomainError('TOKEN_INVALID', 'The sign-in attempt has expired; log in again');
    await mfaThrottle.succeeded(userId);
    const profile = await call(usersInternal.byId, { id: userId });
    // Deactivated since the password step: the attempt is over, without saying why.
    if (profile.status !== 'active') throw new DomainError('TOKEN_INVALID', 'The sign-in attempt has expired; log in again');
    await repo.touchLogin(userId);
    if (used === 'recovery_code') logger.info({ userId }, 'signed in with a recovery code');
    return openSession(
      uow,
      deps,
      profile,
      client,
      async ({ emit }, sessionId) => {
        await emit(authEvents.loginSucceeded, { userId, sessionId, ...clientFields(client) }, userId);
        if (used === 'recovery_code') await emit(authEvents.mfaChanged, { userId, change: 'recovery_code_used', ...clientFields(client) }, userId);
      },
      ['pwd', 'otp'],
    );
  },

  async mfaStatus({ caller, repo }) {
    const totp = await repo.totp(caller.userId);
    return {
      totp: Boolean(totp?.confirmed_at),
      recoveryCodesLeft: totp?.confirmed_at ? await repo.recoveryCodesLeft(caller.userId) : 0,
      required: caller.roles.some((r) => mfaRequiredRoles().includes(r)),
      thisSessionUsedMfa: caller.mfa === true,
    };
  },

  async mfaEnrol({ input, caller, client, repo, deps }) {
    const cred = await repo.byUserId(caller.userId);
    if (!cred) throw new DomainError('INVALID_CREDENTIALS', 'Password is wrong');
    await checkCurrentPassword(cred, input.password, deps.throttle, client?.ip);
    if ((await repo.totp(cred.user_id))?.confirmed_at) throw new DomainError('CONFLICT', 'Two-step sign-in is already on; turn it off first');
    const secret = newTotpSecret();
    await repo.putPendingTotp(cred.user_id, (await deps.sealer()).seal(secret, cred.user_id));
    const uri = otpauthUri(secret, cred.email, deps.lmsName);
    return { secret, otpauthUri: uri, qrCodeSvg: await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M' }) };
  },

  async mfaConfirm({ input, caller, client, call, repo, deps, uow }) {
    const { mfaThrottle } = deps;
    const userId = caller.userId;
    const totp = await repo.totp(userId);
    if (!totp || totp.confirmed_at) throw new DomainError('CONFLICT', totp ? 'Two-step sign-in is already on' : 'Start enrolment first (POST /auth/mfa/totp)');
    await mfaThrottle.check(userId, client?.ip);
    const step = verifyTotp((await deps.sealer()).open(totp.secret_sealed, userId), input.code, null);
    if (step === null) {
      await mfaThrottle.failed(userId, client?.ip);
      throw new DomainError('INVALID_CREDENTIALS', 'The code is wrong; check the clock of the device');
    }
    const profile = await call(usersInternal.byId, { id: userId });
    const codes = newRecoveryCodes();
    await uow(async ({ repo, emit }) => {
      if (!(await repo.useTotpStep(userId, step, true))) throw new DomainError('INVALID_CREDENTIALS', 'That code was already used; wait for the next one');
      await repo.replaceRecoveryCodes(
        userId,
        codes.map((c) => sha256(normaliseRecoveryCode(c))),
      );
      await emit(authEvents.mfaChanged, { userId, change: 'enabled', ...clientFields(client) }, userId);
      await notify(emit, profile, 'mfa_enabled');
    });
    await mfaThrottle.succeeded(userId);
    return { enabled: true as const, recoveryCodes: codes };
  },

  async mfaDisable({ input, caller, client, call, repo, deps, uow }) {
    const userId = caller.userId;
    const cred = await repo.byUserId(userId);
    if (!cred) throw new DomainError('INVALID_CREDENTIALS', 'Password is wrong');
    await checkCurrentPassword(cred, input.password, deps.throttle, client?.ip);
    if (!(await repo.totp(userId))?.confirmed_at) throw new DomainError('CONFLICT', 'Two-step sign-in is not on');
    await deps.mfaThrottle.check(userId, client?.ip);
    if (!(await checkSecondFactor(repo, await deps.sealer(), userId, input))) {
      await deps.mfaThrottle.failed(userId, client?.ip);
      throw wrongCode();
    }
    const profile = await call(usersInternal.byId, { id: userId });
    await uow(async ({ repo, emit }) => {
      await repo.deleteTotp(userId);
      await emit(authEvents.mfaChanged, { userId, change: 'disabled', ...clientFields(client) }, userId);
      await notify(emit, profile, 'mfa_disabled');
    });
    return { disabled: true as const };
  },

  async mfaRecoveryCodes({ input, caller, client, repo, deps, uow }) {
    const userId = caller.userId;
    if (!(await repo.totp(userId))?.confirmed_at) throw new DomainError('CONFLICT', 'Two-step sign-in is not on');
    await deps.mfaThrottle.check(userId, client?.ip);
    if (!(await checkSecondFactor(repo, await deps.sealer(), userId, { code: input.code }))) {
      await deps.mfaThrottle.failed(userId, client?.ip);
      throw wrongCode();
    }
    const codes = newRecoveryCodes();
    await uow(async ({ repo, emit }) => {
      await repo.replaceRecoveryCodes(
        userId,
        codes.map((c) => sha256(normaliseRecoveryCode(c))),
      );
      await emit(authEvents.mfaChanged, { userId, change: 'recovery_codes_replaced', ...clientFields(client) }, userId);
    });
    return { recoveryCodes: codes };
  },
};
