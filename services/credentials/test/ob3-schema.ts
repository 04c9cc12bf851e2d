/**
 * The 1EdTech Open Badges 3.0 AchievementCredential JSON Schema, transcribed (the requirements only, descriptions left
 * out) from https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json
 * (source: github.com/1EdTech/openbadges-specification, docs/schema/achievementcredential.json, commit e0fdb03), with
 * the VC Data Model 2.0 changes of OB 3.0.3: `validFrom` / `validUntil` instead of `issuanceDate` /
 * `expirationDate`, and `@context` starting with the VC 2.0 context then the OB 3.0.x context.
 */
const iri = { type: 'string', minLength: 1 } as const;
const typeOf = (must: string) => ({
  oneOf: [
    { type: 'string', const: must },
    { type: 'array', minItems: 1, items: iri, contains: { const: must } },
  ],
});
const dateTime = { type: 'string', format: 'date-time' } as const;
const extEnum = (values: string[]) => ({
  anyOf: [
    { type: 'string', enum: values },
    { type: 'string', pattern: '(ext:)[a-z|A-Z|0-9|.|-|_]+' },
  ],
});

export const achievementCredentialSchema = {
  $id: 'https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json',
  type: 'object',
  properties: {
    '@context': {
      type: 'array',
      minItems: 2,
      prefixItems: [
        { const: 'https://www.w3.org/ns/credentials/v2' },
        { type: 'string', pattern: '^https://purl\\.imsglobal\\.org/spec/ob/v3p0/context(-3\\.\\d\\.\\d)*\\.json$' },
      ],
      items: { anyOf: [{ type: 'object' }, { type: 'string' }] },
    },
    id: iri,
    type: {
      type: 'array',
      minItems: 1,
      items: iri,
      allOf: [{ contains: { const: 'VerifiableCredential' } }, { contains: { enum: ['AchievementCredential', 'OpenBadgeCredential'] } }],
    },
    name: { type: 'string' },
    description: { type: 'string' },
    credentialSubject: { $ref: '#/$defs/AchievementSubject' },
    issuer: { $ref: '#/$defs/Profile' },
    validFrom: dateTime,
    validUntil: dateTime,
    awardedDate: dateTime,
    credentialStatus: { $ref: '#/$defs/CredentialStatus' },
  },
  required: ['@context', 'id', 'type', 'name', 'credentialSubject', 'issuer', 'validFrom'],
  additionalProperties: true,
  $defs: {
    CredentialStatus: { type: 'object', properties: { id: iri, type: iri }, required: ['id', 'type'], additionalProperties: true },
    AchievementSubject: {
      type: 'object',
      properties: {
        id: iri,
        type: typeOf('AchievementSubject'),
        activityEndDate: dateTime,
        activityStartDate: dateTime,
        creditsEarned: { type: 'number' },
        achievement: { $ref: '#/$defs/Achievement' },
        identifier: { type: 'array', items: { $ref: '#/$defs/IdentityObject' } },
        licenseNumber: { type: 'string' },
        narrative: { type: 'string' },
        role: { type: 'string' },
        term: { type: 'string' },
      },
      required: ['type', 'achievement'],
      // "Either `id` or at least one `identifier` MUST be supplied."
      anyOf: [{ required: ['id'] }, { required: ['identifier'], properties: { identifier: { minItems: 1 } } }],
      additionalProperties: true,
    },
    IdentityObject: {
      type: 'object',
      properties: {
        type: { const: 'IdentityObject' },
        hashed: { type: 'boolean' },
        identityHash: { type: 'string' },
        identityType: extEnum([
          'name',
          'sourcedId',
          'systemId',
          'productId',
          'userName',
          'accountId',
          'emailAddress',
          'nationalIdentityNumber',
          'isbn',
          'issn',
          'lisSourcedId',
          'oneRosterSourcedId',
          'sisSourcedId',
          'ltiContextId',
          'ltiDeploymentId',
          'ltiToolId',
          'ltiPlatformId',
          'ltiUserId',
          'identifier',
        ]),
        salt: { type: 'string' },
      },
      required: ['type', 'hashed', 'identityHash', 'identityType'],
      additionalProperties: false,
    },
    Achievement: {
      type: 'object',
      properties: {
        id: iri,
        type: typeOf('Achievement'),
        achievementType: extEnum([
          'Achievement',
          'ApprenticeshipCertificate',
          'Assessment',
          'Assignment',
          'AssociateDegree',
          'Award',
          'Badge',
          'BachelorDegree',
          'Certificate',
          'CertificateOfCompletion',
          'Certification',
          'CommunityService',
          'Competency',
          'Course',
          'CoCurricular',
          'Degree',
          'Diploma',
          'DoctoralDegree',
          'Fieldwork',
          'GeneralEducationDevelopment',
          'JourneymanCertificate',
          'LearningProgram',
          'License',
          'Membership',
          'ProfessionalDoctorate',
          'QualityAssuranceCredential',
          'MasterCertificate',
          'MasterDegree',
          'MicroCredential',
          'ResearchDoctorate',
          'SecondarySchoolDiploma',
        ]),
        criteria: { $ref: '#/$defs/Criteria' },
        description: { type: 'string' },
        name: { type: 'string' },
        humanCode: { type: 'string' },
      },
      required: ['id', 'type', 'criteria', 'description', 'name'],
      additionalProperties: true,
    },
    Criteria: { type: 'object', properties: { id: iri, narrative: { type: 'string' } }, additionalProperties: true },
    Profile: {
      type: 'object',
      properties: { id: iri, type: typeOf('Profile'), name: { type: 'string' }, url: iri },
      required: ['id', 'type'],
      additionalProperties: true,
    },
  },
} as const;
