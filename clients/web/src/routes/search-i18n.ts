// The search page's messages, in English and French: loaded with the page, not in the initial bundle.
import { usePageI18n, type Locale, type PageI18n } from '../i18n.ts';

const en = {
  searchTitle: 'Search',
  searchTitleFor: 'Results for “{q}”',
  searchCount: '{n} results for “{q}”',
  searchCountOne: '1 result for “{q}”',
  searchCountAll: '{n} results',
  searchNone: 'Nothing matches “{q}”. Try other words or fewer filters.',
  searchNoneAll: 'Nothing matches these filters.',
  searchDidYouMean: 'Did you mean:',
  searchFilters: 'Filters',
  searchClearFilters: 'Clear the filters',
  facetType: 'Type',
  facetCategory: 'Category',
  facetLevel: 'Level',
  facetLanguage: 'Language',
  facetTags: 'Tags',
  searchSort: 'Sort by',
  sortRelevance: 'Relevance',
  sortNewestFirst: 'Newest',
  sortPopularity: 'Popularity',
  searchMore: 'More results',
  searchInCourse: 'in a course',
};
type SearchKey = keyof typeof en;

const fr: Record<SearchKey, string> = {
  searchTitle: 'Recherche',
  searchTitleFor: 'Résultats pour « {q} »',
  searchCount: '{n} résultats pour « {q} »',
  searchCountOne: '1 résultat pour « {q} »',
  searchCountAll: '{n} résultats',
  searchNone: 'Rien ne correspond à « {q} ». Essayez d’autres mots ou moins de filtres.',
  searchNoneAll: 'Rien ne correspond à ces filtres.',
  searchDidYouMean: 'Vouliez-vous dire :',
  searchFilters: 'Filtres',
  searchClearFilters: 'Effacer les filtres',
  facetType: 'Type',
  facetCategory: 'Catégorie',
  facetLevel: 'Niveau',
  facetLanguage: 'Langue',
  facetTags: 'Étiquettes',
  searchSort: 'Trier par',
  sortRelevance: 'Pertinence',
  sortNewestFirst: 'Les plus récents',
  sortPopularity: 'Popularité',
  searchMore: 'Plus de résultats',
  searchInCourse: 'dans un cours',
};

const tables: Record<Locale, Record<SearchKey, string>> = { en, fr };

export type SearchI18n = PageI18n<SearchKey>;

/** The app's i18n whose `t` also knows these pages' messages. */
export function useSearchI18n(): SearchI18n {
  return usePageI18n(tables);
}
